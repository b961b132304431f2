# source: https://github.com/martinwicke/tf-dev-summit-tensorboard-tutorial/issues/3
# expect: activation-on-logits, dead-relu
# category: vision
# bug: the classifier's last Linear layer is followed by a ReLU, so logits cannot go negative; once a class's output unit is pushed below zero for every image it never receives gradient again and that class is never predicted
"""10-class CNN on 16x16 digit-like stroke patterns, classifier head ends in ReLU."""
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
rng = np.random.default_rng(4)

N_CLASSES = 10
# each class is a fixed random set of strokes on a 4x4 grid of 4x4 cells
templates = (rng.random((N_CLASSES, 4, 4)) < 0.4).astype(np.float32)


def sample(k):
    img = np.kron(templates[k], np.ones((4, 4), dtype=np.float32))
    img = np.roll(img, rng.integers(-1, 2), axis=1)
    return img + 0.3 * rng.standard_normal((16, 16)).astype(np.float32)


ys = rng.integers(0, N_CLASSES, size=2000)
xs = np.stack([sample(k) for k in ys])[:, None]
xs = (xs - xs.mean()) / xs.std()
X, Y = torch.from_numpy(xs), torch.from_numpy(ys).long()


class ConvClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 16, 64), nn.ReLU(),
        )
        self.classifier = nn.Sequential(nn.Linear(64, N_CLASSES), nn.ReLU())   # BUG: ReLU on the logits

    def forward(self, x):
        return self.classifier(self.body(x))


model = ConvClassifier()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()

step = 0
for epoch in range(6):
    order = torch.randperm(len(X))
    for i in range(0, len(X), 50):
        idx = order[i:i + 50]
        out = model(X[idx])
        loss = loss_fn(out, Y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 40 == 0:
            print(f"step {step:4d} loss {loss.item():.4f}")
        step += 1
    with torch.no_grad():
        out = model(X)
        acc = (out.argmax(1) == Y).float().mean().item()
        dead = (out.max(0).values <= 0).sum().item()
    print(f"epoch {epoch} accuracy {acc:.3f}  classes whose logit is 0 for every image: {dead}")
