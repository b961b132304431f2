# source: https://github.com/pytorch/examples/pull/117
# expect: activation-on-logits
# category: tabular
# bug: the classifier's last nn.Linear is followed by nn.ReLU, so negative logits are clipped to 0 before CrossEntropyLoss and clipped classes get no gradient
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(30)

# churn-risk tiers from 10 account features
n, d, k = 4000, 10, 6
W_true = torch.randn(d, k)
X = torch.randn(n, d)
y = (X @ W_true + 0.5 * torch.randn(n, k)).argmax(1)

loader = DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)

model = nn.Sequential(
    nn.Linear(d, 64),
    nn.ReLU(),
    nn.Linear(64, 32),
    nn.ReLU(),
    nn.Linear(32, k),
    nn.ReLU(),
)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(6):
    correct = 0
    epoch_loss = 0.0
    for xb, yb in loader:
        logits = model(xb)
        loss = criterion(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        epoch_loss += loss.item() * len(yb)
        correct += (logits.argmax(1) == yb).sum().item()
    print(f"Epoch {epoch + 1}: loss={epoch_loss / n:.4f} accuracy={correct / n:.3f}")
