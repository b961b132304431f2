# source: https://github.com/chuanyangjin/fast-DiT/issues/4
# expect: labels-decoupled
# category: tabular
# bug: the feature table is sorted by customer id before building X, but y is built from the records in their original (unsorted) order
import random
import torch
import torch.nn as nn

random.seed(2)
torch.manual_seed(2)

# raw records as exported
records = []
for _ in range(3000):
    cid = random.randint(100000, 999999)
    usage = random.gauss(50, 15)
    late_payments = random.randint(0, 6)
    support_calls = random.randint(0, 10)
    tenure = random.uniform(0, 10)
    score = 0.04 * (usage - 50) - 0.5 * late_payments - 0.2 * support_calls + 0.3 * tenure + 1.0
    plan = 0 if score < -1 else (1 if score < 1.2 else 2)     # basic / standard / premium upsell
    records.append({"id": cid, "usage": usage, "late": late_payments,
                    "calls": support_calls, "tenure": tenure, "plan": plan})

FEATURES = ["usage", "late", "calls", "tenure"]
by_id = sorted(records, key=lambda r: r["id"])
X = torch.tensor([[r[f] for f in FEATURES] for r in by_id], dtype=torch.float32)
y = torch.tensor([r["plan"] for r in records])

X = (X - X.mean(0)) / X.std(0)
X_train, y_train = X[:2500], y[:2500]
X_val, y_val = X[2500:], y[2500:]


def train(model, epochs=10, bs=100, lr=1e-2):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for ep in range(epochs):
        perm = torch.randperm(len(X_train))
        for i in range(0, len(X_train), bs):
            idx = perm[i:i + bs]
            loss = nn.functional.cross_entropy(model(X_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            val_loss = nn.functional.cross_entropy(model(X_val), y_val).item()
            val_acc = (model(X_val).argmax(1) == y_val).float().mean().item()
        print(f"epoch {ep}: train loss {loss.item():.4f} val loss {val_loss:.4f} val acc {val_acc:.3f}")


net = nn.Sequential(nn.Linear(4, 48), nn.ReLU(), nn.Linear(48, 48), nn.ReLU(), nn.Linear(48, 3))
train(net)
