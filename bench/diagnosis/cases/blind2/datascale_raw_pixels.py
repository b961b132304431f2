# source: https://github.com/www0wwwjs1/Matrix-Capsules-EM-Tensorflow/issues/51
# expect: unnormalized-inputs
# category: vision
# bug: uint8 images are cast to float and fed to the network as raw 0-255 values, never divided by 255 nor standardised
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset, DataLoader

torch.manual_seed(6)

# 10 classes of 12x12 grayscale "digits": a class template plus noise, stored as uint8 like a decoded PNG
templates = (torch.rand(10, 12, 12) > 0.6).float()
labels = torch.randint(0, 10, (3000,))
images = templates[labels] * 180 + torch.rand(3000, 12, 12) * 75
images = images.clamp(0, 255).to(torch.uint8)

train_ds = TensorDataset(images[:2500], labels[:2500])
test_x, test_y = images[2500:], labels[2500:]


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(144, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.float().flatten(1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


model = MLP()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
criterion = nn.CrossEntropyLoss()
loader = DataLoader(train_ds, batch_size=64, shuffle=True)

for epoch in range(8):
    total, n = 0.0, 0
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        n += len(y)
    with torch.no_grad():
        acc = (model(test_x).argmax(1) == test_y).float().mean().item()
    print(f"epoch {epoch}  train loss {total / n:.4f}  test acc {acc:.3f}")
