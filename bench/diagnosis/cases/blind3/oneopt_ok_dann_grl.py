# source: https://github.com/yfzhang114/Environment-Label-Smoothing/issues/1
# expect: healthy
# category: multi-loss
# bug: DANN with a gradient reversal layer: one Adam over features, label head and domain head is correct here, since the domain head minimises its loss and only the features see the reversed gradient
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.lam * grad, None


def make_domain(n, shift):
    x = torch.randn(n, 10)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x + shift, y


src_x, src_y = make_domain(2000, 0.0)
tgt_x, tgt_y = make_domain(2000, torch.linspace(-0.5, 0.5, 10))


class DANN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.label_head = nn.Linear(32, 2)
        self.domain_head = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x, lam):
        f = self.features(x)
        return self.label_head(f), self.domain_head(GradReverse.apply(f, lam)).squeeze(1)


model = DANN()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for step in range(300):
    i = torch.randint(0, 2000, (64,))
    j = torch.randint(0, 2000, (64,))
    lam = min(1.0, step / 150) * 0.3
    cls_s, dom_s = model(src_x[i], lam)
    _, dom_t = model(tgt_x[j], lam)
    task = F.cross_entropy(cls_s, src_y[i])
    domain = F.binary_cross_entropy_with_logits(torch.cat([dom_s, dom_t]), torch.cat([torch.zeros(64), torch.ones(64)]))
    loss = task + domain
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        with torch.no_grad():
            acc_t = (model(tgt_x, 0.0)[0].argmax(1) == tgt_y).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} task {task.item():.4f} domain {domain.item():.4f} target acc {acc_t:.3f}")
