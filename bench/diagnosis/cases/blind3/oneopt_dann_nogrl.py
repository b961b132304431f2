# source: https://github.com/fungtion/DANN/issues/7
# expect: game-shared-optimizer, loss-sign-flipped
# category: multi-loss
# bug: domain-adversarial training without a gradient reversal layer: loss = task - lam*domain stepped by one SGD over features, label head and domain head, so the domain head is trained to fail too
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)


def make_domain(n, shift):
    x = torch.randn(n, 10)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    x = x + shift
    return x, y


src_x, src_y = make_domain(2000, 0.0)
tgt_x, tgt_y = make_domain(2000, torch.linspace(-1.5, 1.5, 10))

features = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
label_head = nn.Linear(32, 2)
domain_head = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))

model = nn.ModuleDict({"features": features, "label_head": label_head, "domain_head": domain_head})
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
lam = 0.3

for step in range(300):
    i = torch.randint(0, 2000, (64,))
    j = torch.randint(0, 2000, (64,))
    xs, ys, xt = src_x[i], src_y[i], tgt_x[j]
    fs, ft = features(xs), features(xt)
    task = F.cross_entropy(label_head(fs), ys)
    dom_logits = domain_head(torch.cat([fs, ft])).squeeze(1)
    dom_labels = torch.cat([torch.zeros(64), torch.ones(64)])
    domain = F.binary_cross_entropy_with_logits(dom_logits, dom_labels)
    loss = task - lam * domain
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        with torch.no_grad():
            acc_t = (label_head(features(tgt_x)).argmax(1) == tgt_y).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} task {task.item():.4f} domain {domain.item():.4f} target acc {acc_t:.3f}")
