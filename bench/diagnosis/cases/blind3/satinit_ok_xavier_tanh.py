# source: https://datascience.stackexchange.com/questions/16911/how-does-sigmoid-saturate-with-large-weights
# expect: healthy
# category: regression
# bug: none; a deep tanh MLP with an explicit init (xavier_uniform_ with the tanh gain) on standardised inputs - activations stay in tanh's linear range
import torch
import torch.nn as nn

torch.manual_seed(30)

X = torch.randn(2048, 20) * torch.linspace(0.5, 30.0, 20) + 100.0
y = torch.sin(X[:, 0]) + 0.05 * (X[:, 5] - 100.0) * (X[:, 1] - 100.0) / 10
mu, sd = X.mean(0), X.std(0)
Xn = (X - mu) / sd
y = (y - y.mean()) / y.std()

layers = []
width = [20, 128, 128, 128, 1]
for i in range(len(width) - 1):
    lin = nn.Linear(width[i], width[i + 1])
    nn.init.xavier_uniform_(lin.weight, gain=nn.init.calculate_gain("tanh"))
    nn.init.zeros_(lin.bias)
    layers.append(lin)
    if i < len(width) - 2:
        layers.append(nn.Tanh())
model = nn.Sequential(*layers)

opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
for epoch in range(10):
    perm = torch.randperm(2048)
    for i in range(0, 2048, 64):
        idx = perm[i:i + 64]
        loss = nn.functional.mse_loss(model(Xn[idx]).squeeze(1), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        full = nn.functional.mse_loss(model(Xn).squeeze(1), y)
    print(f"epoch {epoch} mse {full.item():.4f}")
