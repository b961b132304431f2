# source: https://github.com/yaq007/Autofocus-Layer/issues/6
# expect: graph-break, optimizer-params-unused
# category: tabular
# bug: the encoder's embedding is standardised in numpy and rebuilt with torch.from_numpy, cutting the graph: the encoder never trains and the head fits a random 4-d projection
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(3)
np.random.seed(3)

N, F_IN = 3000, 10
X = torch.randn(N, F_IN)
y = (torch.sin(2 * X[:, 0]) * X[:, 1] + 0.5 * X[:, 2] ** 2 - X[:, 3] * X[:, 4]).unsqueeze(1)
X_train, y_train = X[:2500], y[:2500]
X_val, y_val = X[2500:], y[2500:]


class TabularNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(F_IN, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
        self.head = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))

    def embed(self, x):
        z = self.encoder(x).detach().cpu().numpy()
        z = (z - z.mean(axis=0, keepdims=True)) / (z.std(axis=0, keepdims=True) + 1e-5)
        return torch.from_numpy(z.astype(np.float32))

    def forward(self, x):
        return self.head(self.embed(x))


model = TabularNet()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
loss_fn = nn.MSELoss()

batch = 128
for step in range(400):
    idx = torch.randint(0, X_train.size(0), (batch,))
    pred = model(X_train[idx])
    loss = loss_fn(pred, y_train[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 80 == 0 or step == 399:
        with torch.no_grad():
            val = loss_fn(model(X_val), y_val).item()
        print(f"step {step:3d} train mse {loss.item():.4f} val mse {val:.4f}")
