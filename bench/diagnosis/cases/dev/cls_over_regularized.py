# source: https://github.com/thedeepchecker/thedeepchecker/blob/main/buggy_synthetic_programs/over_regulariaztion/baseCNN_over_reg.py
# expect: over-regularization
# category: classification
# bug: the L2 penalty added to the loss has lambda = 0.1 (meant 1e-5); summed over every weight it dominates the data term and pins the weights near zero, so the classifier cannot fit (TheDeepChecker's over-regularization fault)
"""MLP on teacher-labelled data; an explicit L2 term over all weight matrices is added to the loss."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(11)

D, C, N = 24, 4, 1024
teacher = nn.Sequential(nn.Linear(D, 32), nn.Tanh(), nn.Linear(32, C))
X = torch.randn(N, D)
with torch.no_grad():
    Y = teacher(X).argmax(dim=1)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(D, 96), nn.Linear(96, 96), nn.Linear(96, 64)])
        self.head = nn.Linear(64, C)

    def forward(self, x):
        for layer in self.layers:
            x = F.relu(layer(x))
        return self.head(x)


def l2_penalty(model, lam):
    return lam * sum((m.weight ** 2).sum() for m in model.modules() if isinstance(m, nn.Linear))


model = Classifier()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
L2_LAMBDA = 0.1
BATCH = 128

for epoch in range(15):
    order = torch.randperm(N)
    data_loss_sum, n_batches = 0.0, 0
    for start in range(0, N, BATCH):
        idx = order[start:start + BATCH]
        logits = model(X[idx])
        data_loss = F.cross_entropy(logits, Y[idx])
        loss = data_loss + l2_penalty(model, L2_LAMBDA)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        data_loss_sum += data_loss.item()
        n_batches += 1
    scheduler.step()
    with torch.no_grad():
        acc = (model(X).argmax(1) == Y).float().mean().item()
    if epoch % 3 == 0 or epoch == 14:
        print(f"epoch {epoch:2d}  total {loss.item():.4f}  data {data_loss_sum / n_batches:.4f}  acc {acc:.3f}")
