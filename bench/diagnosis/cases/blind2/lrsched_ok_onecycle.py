# source: https://github.com/pytorch/pytorch/issues/3814
# expect: healthy
# category: vision
# bug: none; OneCycleLR is a per-step schedule (total_steps = epochs * len(loader)) and is correctly stepped after every batch, annealing to ~0 only at the very end
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(26)

N_CLASSES = 8
templates = torch.randn(N_CLASSES, 1, 10, 10)
labels = torch.randint(0, N_CLASSES, (1600,))
images = templates[labels] + 2.0 * torch.randn(1600, 1, 10, 10)
loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True)

model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
    nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * 25, N_CLASSES),
)
epochs = 8
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs, steps_per_epoch=len(loader))
criterion = nn.CrossEntropyLoss()

for epoch in range(epochs):
    model.train()
    tot, correct = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        out = model(xb)
        loss = criterion(out, yb)
        loss.backward()
        optimizer.step()
        scheduler.step()
        tot += loss.item() * len(yb)
        correct += (out.argmax(1) == yb).sum().item()
    print(f"epoch {epoch}: loss {tot / len(images):.4f} acc {correct / len(images):.3f} lr {scheduler.get_last_lr()[0]:.2e}")
