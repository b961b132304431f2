# source: https://github.com/thuml/CDAN/issues/6 ("the domain discriminator is updated based on the total loss"; answer: gradient is reversed before reaching the feature extractor, so one optimizer on the summed loss is correct)
# expect: healthy
# category: classification
# bug: none - a single Adam optimizer minimizes class_loss + domain_loss over all modules, but the features reach the domain head through GradientReversal, so the domain head minimizes its loss while the extractor maximizes it; this is the standard DANN saddle-point update, not a shared-optimizer fault
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(3)


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coeff):
        ctx.coeff = coeff
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return -ctx.coeff * grad, None


class GradientReversal(nn.Module):
    def __init__(self):
        super().__init__()
        self.coeff = 0.0

    def forward(self, x):
        return _Reverse.apply(x, self.coeff)


def make_domain(n, rot_deg, gen):
    """Two interleaved half-moons (machine state A / B) from one sensor pair;
    the target plant has the sensor pair mounted at a different angle."""
    h = n // 2
    t1 = torch.rand(h, generator=gen) * math.pi
    t2 = torch.rand(n - h, generator=gen) * math.pi
    a = torch.stack([torch.cos(t1), torch.sin(t1)], 1)
    b = torch.stack([1 - torch.cos(t2), 0.5 - torch.sin(t2)], 1)
    x = torch.cat([a, b]) + 0.1 * torch.randn(n, 2, generator=gen) - torch.tensor([0.5, 0.25])
    y = torch.cat([torch.zeros(h), torch.ones(n - h)]).long()
    th = math.radians(rot_deg)
    R = torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    return x @ R.T, y


g = torch.Generator().manual_seed(0)
xs, ys = make_domain(3000, 0, g)
xt, yt = make_domain(3000, 25, g)
src_loader = DataLoader(TensorDataset(xs, ys), batch_size=128, shuffle=True, drop_last=True)
tgt_loader = DataLoader(TensorDataset(xt), batch_size=128, shuffle=True, drop_last=True)

extractor = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
classifier = nn.Linear(64, 2)
grl = GradientReversal()
domain_clf = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
params = list(extractor.parameters()) + list(classifier.parameters()) + list(domain_clf.parameters())
opt = torch.optim.Adam(params, lr=1e-3)

EPOCHS = 40
steps_per_epoch = len(src_loader)
for epoch in range(EPOCHS):
    for k, ((x_s, y_s), (x_t,)) in enumerate(zip(src_loader, tgt_loader)):
        p = (epoch * steps_per_epoch + k) / (EPOCHS * steps_per_epoch)
        grl.coeff = 2.0 / (1.0 + math.exp(-10 * p)) - 1.0
        f_s, f_t = extractor(x_s), extractor(x_t)
        class_loss = F.cross_entropy(classifier(f_s), y_s)
        d_logits = domain_clf(grl(torch.cat([f_s, f_t])))
        d_labels = torch.cat([torch.zeros(len(x_s)), torch.ones(len(x_t))])
        domain_loss = F.binary_cross_entropy_with_logits(d_logits.squeeze(1), d_labels)
        loss = class_loss + domain_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    if epoch % 4 == 3:
        with torch.no_grad():
            acc_s = (classifier(extractor(xs)).argmax(1) == ys).float().mean().item()
            acc_t = (classifier(extractor(xt)).argmax(1) == yt).float().mean().item()
        print(f"epoch {epoch + 1:2d}  class_loss {class_loss.item():.4f}  domain_loss {domain_loss.item():.4f}  "
              f"source acc {acc_s:.3f}  target acc {acc_t:.3f}")
