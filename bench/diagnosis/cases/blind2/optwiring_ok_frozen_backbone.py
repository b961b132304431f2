# source: https://github.com/pytorch/vision/issues/132
# expect: healthy
# category: vision
# bug: none; the backbone is frozen on purpose and left out of the optimizer, which is built after the new head replaces model.fc
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(16)


class Backbone(nn.Module):
    def __init__(self, n_out=10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(32, n_out)

    def forward(self, x):
        return self.fc(self.body(x))


model = Backbone(n_out=10)

n_classes = 6
protos = torch.randn(n_classes, 3, 1, 1) * 2
y = torch.randint(0, n_classes, (1200,))
x = protos[y] + torch.randn(1200, 3, 16, 16)
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)

for p in model.body.parameters():
    p.requires_grad = False
model.fc = nn.Linear(model.fc.in_features, n_classes)

trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.Adam(trainable, lr=1e-2)
criterion = nn.CrossEntropyLoss()
print(f"training {sum(p.numel() for p in trainable)} of {sum(p.numel() for p in model.parameters())} parameters")

step = 0
for epoch in range(5):
    running = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        running += loss.item()
        if step % 30 == 0:
            print(f"step {step}: loss {loss.item():.4f}")
        step += 1
    print(f"epoch {epoch}: mean loss {running / len(loader):.4f}")
