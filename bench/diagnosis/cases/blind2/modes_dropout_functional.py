# source: https://github.com/pytorch/pytorch/issues/26338
# expect: nondeterministic-eval
# category: classification
# bug: the forward calls F.dropout(x, p=0.5) without training=self.training, so dropout stays on at evaluation and validation scores are noisy and pessimistic
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(22)
V, T = 50, 20
pos_words = torch.arange(0, 5)
neg_words = torch.arange(5, 10)


def reviews(n):
    x = torch.randint(10, V, (n, T))
    y = torch.randint(0, 2, (n,))
    k = 3
    for i in range(n):
        words = pos_words if y[i] == 1 else neg_words
        spots = torch.randperm(T)[:k]
        x[i, spots] = words[torch.randint(0, 5, (k,))]
    return x, y


class BagOfEmbeddings(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 64)
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 1)

    def forward(self, x):
        h = self.emb(x).max(dim=1).values
        h = F.dropout(h, p=0.5)
        h = F.relu(self.fc1(h))
        h = F.dropout(h, p=0.5)
        return self.fc2(h).squeeze(1)


tx, ty = reviews(3000)
vx, vy = reviews(600)
model = BagOfEmbeddings()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
for step in range(300):
    model.train()
    idx = torch.randint(0, 3000, (64,))
    loss = F.binary_cross_entropy_with_logits(model(tx[idx]), ty[idx].float())
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == 299:
        model.eval()
        with torch.no_grad():
            a1 = ((model(vx) > 0).long() == vy).float().mean().item()
            a2 = ((model(vx) > 0).long() == vy).float().mean().item()
            vloss = F.binary_cross_entropy_with_logits(model(vx), vy.float()).item()
        print(f"step {step} train loss {loss.item():.4f} val loss {vloss:.4f} val acc {a1:.3f} / rerun {a2:.3f}")
