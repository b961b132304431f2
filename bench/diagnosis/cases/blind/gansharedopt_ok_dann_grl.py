# source: https://github.com/jason718/game-feature-learning/issues/3
# expect: healthy
# category: multi-loss
# bug: domain-adversarial training done right: one optimizer over extractor and both heads, with a gradient-reversal layer between the features and the domain head, so the domain head learns the domains while the extractor is pushed to hide them
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(9)


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coeff):
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coeff * grad, None


def domain_data(n, shift):
    x = torch.randn(n, 8)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return x + shift, y


shift = torch.tensor([1.5, -1.0, 0.0, 2.0, 0.0, 0.0, -1.5, 0.5])
xs, ys = domain_data(1500, torch.zeros(8))
xt, yt = domain_data(1500, shift)


class DANN(nn.Module):
    def __init__(self):
        super().__init__()
        self.extractor = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU())
        self.label_head = nn.Linear(16, 2)
        self.domain_head = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x, coeff=0.3):
        f = self.extractor(x)
        return self.label_head(f), self.domain_head(GradReverse.apply(f, coeff))


model = DANN()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for step in range(300):
    i = torch.randint(0, 1500, (64,))
    j = torch.randint(0, 1500, (64,))
    cls_src, dom_src = model(xs[i])
    _, dom_tgt = model(xt[j])
    cls_loss = F.cross_entropy(cls_src, ys[i])
    dom_logits = torch.cat([dom_src, dom_tgt])
    dom_labels = torch.cat([torch.zeros(64, 1), torch.ones(64, 1)])
    dom_loss = F.binary_cross_entropy_with_logits(dom_logits, dom_labels)
    loss = cls_loss + dom_loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 0 or step == 299:
        with torch.no_grad():
            tgt_acc = (model(xt)[0].argmax(1) == yt).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.3f} cls {cls_loss.item():.3f} dom {dom_loss.item():.3f} target acc {tgt_acc:.3f}")
