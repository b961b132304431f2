# source: https://github.com/microsoft/nni/issues/4521
# expect: params-not-in-optimizer
# category: vision
# bug: the optimizer is built on model.fc, then model.fc is replaced by a new Linear for the 6 target classes; the new head gets gradients that no optimizer applies
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(10)


class Backbone(nn.Module):
    def __init__(self, n_out=10):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(32, n_out)

    def forward(self, x):
        return self.fc(self.body(x))


# pretend this came from a pretraining run
model = Backbone(n_out=10)

# fine-tuning data: 6 classes, class = dominant colour channel mix
n_classes = 6
protos = torch.randn(n_classes, 3, 1, 1) * 2
y = torch.randint(0, n_classes, (1200,))
x = protos[y] + torch.randn(1200, 3, 16, 16)
loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)

for p in model.body.parameters():
    p.requires_grad = False

optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.05, momentum=0.9)
model.fc = nn.Linear(model.fc.in_features, n_classes)
criterion = nn.CrossEntropyLoss()

step = 0
for epoch in range(5):
    model.train()
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
