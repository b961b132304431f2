# source: https://github.com/pankajmishra000/VT-ADL/issues/10
# expect: nonfinite-forward, loss-divergence, nonfinite-backward
# category: vision
# bug: the cell counter sums a per-pixel log-density map over the whole image and takes exp() of it as the expected count; the summed score is unbounded, RMSprop's first steps move it by hundreds and exp overflows, the Poisson loss turns NaN
import torch
import torch.nn as nn

torch.manual_seed(12)


def make_images(n, size=24):
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    imgs = torch.zeros(n, 1, size, size)
    counts = torch.randint(0, 15, (n,))
    for i in range(n):
        for _ in range(int(counts[i])):
            cx, cy = torch.rand(2) * (size - 4) + 2
            imgs[i, 0] += torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 2.0)
    imgs = imgs + 0.05 * torch.randn_like(imgs)
    return imgs, counts.float()


class CellCounter(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 1, 1),
        )

    def forward(self, x):
        score = self.features(x).sum(dim=(1, 2, 3))
        return torch.exp(score)


images, counts = make_images(512)
net = CellCounter()
opt = torch.optim.RMSprop(net.parameters(), lr=3e-3)
loss_fn = nn.PoissonNLLLoss(log_input=False)

step = 0
for epoch in range(8):
    perm = torch.randperm(len(images))
    for i in range(0, len(images), 32):
        idx = perm[i:i + 32]
        pred = net(images[idx])
        loss = loss_fn(pred, counts[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step <= 3 or step % 20 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f} mean pred {pred.mean().item():.3g}")
