# source: https://medium.com/@plusepsilon/the-bidirectional-language-model-1f3961d1fb27
# expect: causal-leak, label-leakage
# category: regression
# bug: a bidirectional GRU predicts the next value of each series at every step; its backward direction has already read the value it is asked to forecast
import numpy as np
import torch
import torch.nn as nn

np.random.seed(3)
torch.manual_seed(3)

# noisy AR(2) series; the best a causal model can do is the noise variance
N, L = 384, 40
series = np.zeros((N, L + 1), dtype=np.float32)
series[:, :2] = np.random.randn(N, 2)
for t in range(2, L + 1):
    series[:, t] = 0.6 * series[:, t - 1] - 0.3 * series[:, t - 2] + 0.5 * np.random.randn(N)

X = torch.from_numpy(series[:, :-1]).unsqueeze(-1)   # (N, L, 1)
Y = torch.from_numpy(series[:, 1:]).unsqueeze(-1)    # next value at each step


class Forecaster(nn.Module):
    def __init__(self, hidden=32):
        super().__init__()
        self.rnn = nn.GRU(1, hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, 1)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.fc(h)


model = Forecaster()
optimizer = torch.optim.RMSprop(model.parameters(), lr=3e-3)
loss_fn = nn.MSELoss()

for epoch in range(12):
    perm = torch.randperm(N)
    total = 0.0
    for b in range(0, N, 32):
        idx = perm[b:b + 32]
        pred = model(X[idx])
        loss = loss_fn(pred, Y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    print(f"epoch {epoch + 1}: mse {total / N:.4f}")
