# source: https://github.com/jason718/game-feature-learning/issues/3
# expect: game-shared-optimizer, loss-sign-flipped
# category: multi-loss
# bug: domain-adversarial training written as loss = cls_loss - lam * domain_loss with ONE optimizer over extractor, label head and domain head: the domain head is trained to be wrong instead of the extractor being trained to fool it
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(9)


def domain_data(n, shift):
    x = torch.randn(n, 8)
    y = (x[:, 0] + x[:, 1] > 0).long()
    x = x + shift
    return x, y


shift = torch.tensor([1.5, -1.0, 0.0, 2.0, 0.0, 0.0, -1.5, 0.5])
xs, ys = domain_data(1500, torch.zeros(8))
xt, yt = domain_data(1500, shift)

extractor = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU())
label_head = nn.Linear(16, 2)
domain_head = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))

params = list(extractor.parameters()) + list(label_head.parameters()) + list(domain_head.parameters())
optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)
lam = 0.3

for step in range(300):
    i = torch.randint(0, 1500, (64,))
    j = torch.randint(0, 1500, (64,))
    f_src, f_tgt = extractor(xs[i]), extractor(xt[j])
    cls_loss = F.cross_entropy(label_head(f_src), ys[i])
    dom_logits = domain_head(torch.cat([f_src, f_tgt]))
    dom_labels = torch.cat([torch.zeros(64, 1), torch.ones(64, 1)])
    dom_loss = F.binary_cross_entropy_with_logits(dom_logits, dom_labels)
    loss = cls_loss - lam * dom_loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 0 or step == 299:
        with torch.no_grad():
            tgt_acc = (label_head(extractor(xt)).argmax(1) == yt).float().mean().item()
            dom_acc = ((dom_logits > 0).float() == dom_labels).float().mean().item()
        print(f"step {step:3d} loss {loss.item():+.3f} cls {cls_loss.item():.3f} dom {dom_loss.item():.3f} "
              f"domain acc {dom_acc:.2f} target acc {tgt_acc:.3f}")
