# source: https://github.com/Photon-AI-Research/NeuralSolvers/issues/20
# expect: healthy
# category: regression
# bug: none — the (N,1) prediction is compared with a target reshaped to (N,1), so the MSE is per-sample
import torch
import torch.nn as nn

torch.manual_seed(5)
n = 800
t = torch.rand(n, 3) * 2 - 1
u = torch.sin(torch.pi * t[:, 0]) * torch.exp(-t[:, 1] ** 2) + 0.5 * t[:, 2]

model = nn.Sequential(nn.Linear(3, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
mse = nn.MSELoss()
for step in range(300):
    idx = torch.randint(0, n, (64,))
    pred = model(t[idx])
    target = u[idx].view(-1, 1)
    loss = mse(pred, target)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0:
        print(f"step {step} loss {loss.item():.5f}")
print("final", mse(model(t), u.unsqueeze(1)).item(), "var", u.var().item())
