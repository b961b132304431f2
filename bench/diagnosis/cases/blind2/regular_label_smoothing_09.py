# source: https://github.com/ckaarle/ma/issues/58
# expect: over-regularization
# category: classification
# bug: "smooth the labels to 0.9" (target confidence 0.9) written as CrossEntropyLoss(label_smoothing=0.9); the targets become nearly uniform, the loss cannot move from chance and the classifier's probabilities stay flat
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(26)

VOCAB, N_TOPICS = 300, 5
# bag-of-words documents: each topic prefers its own 60-word slice of the vocabulary
def documents(n):
    topic = torch.randint(0, N_TOPICS, (n,))
    probs = torch.full((n, VOCAB), 1.0)
    for k in range(N_TOPICS):
        probs[topic == k, k * 60:(k + 1) * 60] += 2.0
    counts = torch.zeros(n, VOCAB)
    words = torch.multinomial(probs, 25, replacement=True)
    counts.scatter_add_(1, words, torch.ones_like(words, dtype=torch.float))
    return torch.log1p(counts), topic


X, y = documents(3000)
X_val, y_val = documents(500)

model = nn.Sequential(nn.Linear(VOCAB, 64), nn.ReLU(), nn.Linear(64, N_TOPICS))
criterion = nn.CrossEntropyLoss(label_smoothing=0.9)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for step in range(300):
    idx = torch.randint(0, len(X), (64,))
    loss = criterion(model(X[idx]), y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0:
        with torch.no_grad():
            p = F.softmax(model(X_val), dim=1)
            acc = (p.argmax(1) == y_val).float().mean().item()
            conf = p.max(1).values.mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} val acc {acc:.3f} mean confidence {conf:.3f}")
