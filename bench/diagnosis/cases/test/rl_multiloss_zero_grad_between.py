# source: https://discuss.pytorch.org/t/multi-task-learning-whats-the-difference-between-jointly-backward-and-backward-with-retain-graph-true/28162
# expect: zero-grad-misplaced
# category: multi-loss
# bug: two losses on one graph are backpropagated separately (retain_graph=True) to log per-loss gradient norms, with zero_grad() between them, so the main loss's gradients are wiped before the step and only the auxiliary loss trains
"""Classifier with an auxiliary activation penalty; per-loss gradient norms are logged."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(12)

n, d, c = 3000, 16, 4
centers = torch.randn(c, d) * 1.5
y = torch.randint(0, c, (n,))
X = centers[y] + torch.randn(n, d)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.out = nn.Linear(32, c)

    def forward(self, x):
        h = self.features(x)
        return self.out(h), h


def grad_norm(module):
    return torch.sqrt(sum((p.grad ** 2).sum() for p in module.parameters() if p.grad is not None)).item()


model = Classifier()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(12):
    perm = torch.randperm(n)
    for i in range(0, n, 100):
        idx = perm[i:i + 100]
        logits, h = model(X[idx])
        main_loss = F.cross_entropy(logits, y[idx])
        aux_loss = 1e-3 * h.pow(2).mean()
        opt.zero_grad()
        main_loss.backward(retain_graph=True)
        g_main = grad_norm(model)
        opt.zero_grad()                          # BUG: meant to isolate aux's gradient, but erases main's
        aux_loss.backward()
        g_aux = grad_norm(model)
        opt.step()
    with torch.no_grad():
        logits, _ = model(X)
        acc = (logits.argmax(1) == y).float().mean().item()
    print(f"epoch {epoch:2d}  main {main_loss.item():.4f}  aux {aux_loss.item():.5f}  |g_main| {g_main:.3f}  |g_aux| {g_aux:.5f}  acc {acc:.3f}")
