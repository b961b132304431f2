# source: https://tutorialreference.com/python/examples/faq/python-numpy-shuffle-two-numpy-arrays-together-in-unison
# expect: labels-decoupled
# category: classification
# bug: each epoch the feature matrix and the label vector are shuffled by two separate calls, so every sample gets a random label
import numpy as np
import torch
import torch.nn as nn

np.random.seed(0)
torch.manual_seed(0)

# 4-class "gesture" data from 12 accelerometer summary features
n, d, k = 2000, 12, 4
centers = np.random.randn(k, d) * 2.0
labels = np.random.randint(0, k, n)
features = centers[labels] + np.random.randn(n, d)

model = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, k))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
criterion = nn.CrossEntropyLoss()

batch_size = 100
for epoch in range(15):
    np.random.shuffle(features)
    np.random.shuffle(labels)
    running, correct = 0.0, 0
    for i in range(0, n, batch_size):
        xb = torch.tensor(features[i:i + batch_size], dtype=torch.float32)
        yb = torch.tensor(labels[i:i + batch_size], dtype=torch.long)
        logits = model(xb)
        loss = criterion(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item() * len(xb)
        correct += (logits.argmax(1) == yb).sum().item()
    print(f"epoch {epoch:2d} loss {running / n:.4f} acc {correct / n:.3f}")
