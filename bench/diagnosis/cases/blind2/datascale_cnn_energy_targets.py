# source: https://community.deeplearning.ai/t/zscore-normalization/217198
# expect: unnormalized-targets
# category: regression
# bug: a 1-D CNN regresses a vibration signal's energy in raw joules (mean ~8000, std ~7000) with MSE and SGD; the output layer can only chase the target mean and the MSE stalls at the target variance
import torch
import torch.nn as nn

torch.manual_seed(33)

n, L = 1500, 128
t = torch.linspace(0, 1, L)
amp = torch.rand(n, 1) * 3 + 0.5
freq = torch.randint(2, 12, (n, 1)).float()
signals = amp * torch.sin(2 * 3.1416 * freq * t) + 0.1 * torch.randn(n, L)
energy_j = (signals ** 2).sum(1) * freq.squeeze(1) * 4.0      # joules

X = signals.unsqueeze(1)
y = energy_j


class EnergyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, 16, 9, padding=4), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(16, 32, 9, padding=4), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
        )
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        return self.out(self.features(x).flatten(1)).squeeze(1)


net = EnergyNet()
opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
loss_fn = nn.MSELoss()

print(f"target mean {y.mean().item():.0f} J, std {y.std().item():.0f} J")
for step in range(250):
    idx = torch.randint(0, 1200, (32,))
    loss = loss_fn(net(X[idx]), y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 25 == 0:
        print(f"step {step:3d} mse {loss.item():.4e}")
