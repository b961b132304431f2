# source: https://github.com/eriklindernoren/Keras-GAN/issues/128
# expect: game-shared-optimizer, grad-not-zeroed
# category: gan
# bug: an LSGAN with two optimizers whose loop only calls opt_d.zero_grad(): the discriminator's loss on undetached fakes leaves gradients in G that opt_g then steps (and G's grads pile up), so the generator is also trained by D's objective
import torch
import torch.nn as nn

torch.manual_seed(13)

# data: 2-D gaussian with correlated axes, centred at (3, -2)
L = torch.tensor([[1.0, 0.0], [0.8, 0.5]])
center = torch.tensor([3.0, -2.0])
dataset = torch.randn(5000, 2) @ L.T + center


class MLP(nn.Module):
    def __init__(self, i, o, h=32):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(i, h), nn.Linear(h, h), nn.Linear(h, o)

    def forward(self, x):
        x = torch.relu(self.l1(x))
        x = torch.relu(self.l2(x))
        return self.l3(x)


gen, disc = MLP(3, 2), MLP(2, 1)
opt_g = torch.optim.Adam(gen.parameters(), lr=5e-4, betas=(0.5, 0.9))
opt_d = torch.optim.Adam(disc.parameters(), lr=5e-4, betas=(0.5, 0.9))


def train(steps=400, bs=100):
    for step in range(steps):
        real = dataset[(step * bs) % 5000:(step * bs) % 5000 + bs]
        fake = gen(torch.randn(bs, 3))

        opt_d.zero_grad()
        d_loss = 0.5 * ((disc(real) - 1) ** 2).mean() + 0.5 * (disc(fake) ** 2).mean()
        d_loss.backward(retain_graph=True)
        opt_d.step()

        g_loss = 0.5 * ((disc(fake) - 1) ** 2).mean()
        g_loss.backward()
        opt_g.step()

        if step % 50 == 0 or step == steps - 1:
            with torch.no_grad():
                s = gen(torch.randn(2000, 3))
                mean_err = (s.mean(0) - center).norm().item()
            print(f"step {step:3d} d {d_loss.item():.4f} g {g_loss.item():.4f} mean error {mean_err:.3f} std ({s.std(0)[0].item():.2f}, {s.std(0)[1].item():.2f})")


train()
