# source: https://github.com/pytorch/pytorch/issues/715
# expect: params-not-in-optimizer
# category: regression
# bug: the hidden layers are kept in a plain Python list, so model.parameters() (and the optimizer) only see the output layer; the hidden layers never change
import torch
import torch.nn as nn

torch.manual_seed(11)


class DeepRegressor(nn.Module):
    def __init__(self, in_dim, hidden, n_layers):
        super().__init__()
        self.hidden_layers = []
        dim = in_dim
        for _ in range(n_layers):
            self.hidden_layers.append(nn.Linear(dim, hidden))
            dim = hidden
        self.act = nn.Tanh()
        self.output = nn.Linear(hidden, 1)

    def forward(self, x):
        for layer in self.hidden_layers:
            x = self.act(layer(x))
        return self.output(x)


d = 20
X = torch.randn(4000, d)
w = torch.randn(d)
y = (torch.sin(X[:, :5].sum(1)) + 0.5 * (X @ w) / d ** 0.5 + 0.3 * X[:, 5] * X[:, 6]).unsqueeze(1)

model = DeepRegressor(d, hidden=8, n_layers=3)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.MSELoss()

for epoch in range(10):
    perm = torch.randperm(len(X))
    total = 0.0
    for i in range(0, len(X), 128):
        idx = perm[i:i + 128]
        pred = model(X[idx])
        loss = loss_fn(pred, y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    print(f"epoch {epoch}: train mse {total / len(X):.4f}")
