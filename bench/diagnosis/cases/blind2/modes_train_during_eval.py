# source: https://github.com/kdexd/virtex/issues/16
# expect: eval-in-train-mode
# category: vision
# bug: evaluate() runs under no_grad but never calls model.eval(), so BatchNorm normalises the small test batches with their own statistics and updates running stats from test data
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(21)


def make_images(n):
    x = torch.randn(n, 3, 16, 16) * 0.3
    y = torch.randint(0, 4, (n,))
    for i in range(n):
        c = int(y[i]) % 3
        x[i, c] += 1.0 + 0.5 * (int(y[i]) // 3)
    return x, y


train_x, train_y = make_images(1600)
test_x, test_y = make_images(400)
# the test set is stored sorted by class, as it came off disk
order = torch.argsort(test_y)
test_x, test_y = test_x[order], test_y[order]


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Linear(32, 4)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def evaluate(model, bs=20):
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_x), bs):
            out = model(test_x[i:i + bs])
            correct += (out.argmax(1) == test_y[i:i + bs]).sum().item()
    return correct / len(test_x)


model = SmallCNN()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
model.train()
for epoch in range(4):
    perm = torch.randperm(1600)
    for i in range(0, 1600, 32):
        idx = perm[i:i + 32]
        loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch} train loss {loss.item():.4f} test acc {evaluate(model):.3f}")
