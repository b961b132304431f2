# source: https://math.stackexchange.com/questions/2329675/is-it-possible-to-model-the-xor-gate-using-a-2-2-1-network-with-no-activation-fu
# expect: healthy
# category: regression
# bug: none; a deliberately linear low-rank model (Linear 32->4 then 4->32, no activation) fit to data that really is a rank-4 linear map
import torch
import torch.nn as nn

torch.manual_seed(37)

d, rank = 32, 4
A = torch.randn(d, rank) / rank ** 0.5
B = torch.randn(rank, d) / rank ** 0.5
X = torch.randn(3000, d)
Y = X @ A @ B + 0.05 * torch.randn(3000, d)


class LowRankMap(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Linear(d, rank, bias=False)
        self.up = nn.Linear(rank, d, bias=False)

    def forward(self, x):
        return self.up(self.down(x))


model = LowRankMap()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
loss_fn = nn.MSELoss()

for step in range(300):
    idx = torch.randint(0, len(X), (128,))
    loss = loss_fn(model(X[idx]), Y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        print(f"step {step:3d}  mse {loss.item():.5f}")
