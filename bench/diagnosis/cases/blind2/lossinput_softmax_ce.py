# source: https://discuss.pytorch.org/t/cross-entropy-loss-is-not-decreasing/43814/16
# expect: double-softmax
# category: vision
# bug: the CNN ends in nn.Softmax and its probabilities are fed to nn.CrossEntropyLoss, which applies log-softmax again
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(0)

N_CLASSES = 10
# synthetic 1x12x12 "glyphs": each class has its own template plus noise
templates = torch.randn(N_CLASSES, 1, 12, 12)
labels = torch.randint(0, N_CLASSES, (2000,))
images = templates[labels] + 2.0 * torch.randn(2000, 1, 12, 12)

loader = DataLoader(TensorDataset(images, labels), batch_size=64, shuffle=True)


class SmallConvNet(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 3 * 3, 64), nn.ReLU(),
            nn.Linear(64, n_classes),
            nn.Softmax(dim=1),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


model = SmallConvNet(N_CLASSES)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)

step = 0
for epoch in range(8):
    correct, seen = 0, 0
    for x, y in loader:
        optimizer.zero_grad()
        out = model(x)
        loss = criterion(out, y)
        loss.backward()
        optimizer.step()
        correct += (out.argmax(1) == y).sum().item()
        seen += len(y)
        if step % 40 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
        step += 1
    print(f"epoch {epoch}  train acc {correct / seen:.3f}")
