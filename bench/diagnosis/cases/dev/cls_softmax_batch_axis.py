# source: https://github.com/thedeepchecker/thedeepchecker/blob/main/buggy_synthetic_programs/wrong_softmax_impl/baseCNN_wrong_soft.py
# expect: batch-mixing
# category: classification
# bug: the hand-written softmax reduces over axis 0 (the batch) instead of the class axis, so each "probability" is normalised across the samples of the batch: the loss cannot fall below log(batch/classes) and an image classified on its own always gets class 0 (TheDeepChecker's wrong softmax implementation)
"""Small CNN on synthetic 1x8x8 bar images; the model ends in its own softmax and the loss is a hand-written cross-entropy on one-hot labels."""
import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(3)
torch.manual_seed(3)

C = 4


def bars(n):
    """Class 0: a horizontal bar, 1: a vertical bar, 2: the diagonal, 3: the anti-diagonal."""
    imgs = np.zeros((n, 1, 8, 8), dtype=np.float32)
    labels = rng.integers(0, C, size=n)
    for i, c in enumerate(labels):
        k = rng.integers(1, 7)
        if c == 0:
            imgs[i, 0, k, :] = 1.0
        elif c == 1:
            imgs[i, 0, :, k] = 1.0
        elif c == 2:
            imgs[i, 0] = np.eye(8)
        else:
            imgs[i, 0] = np.fliplr(np.eye(8))
    imgs += 0.3 * rng.standard_normal(imgs.shape).astype(np.float32)
    return torch.from_numpy(imgs), torch.from_numpy(labels).long()


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 2 * 2, 32)
        self.head = nn.Linear(32, C)

    @staticmethod
    def softmax(logits):
        shifted = logits - logits.max(dim=0, keepdim=True).values
        e = torch.exp(shifted)
        return e / e.sum(dim=0, keepdim=True)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.relu(self.fc(x.flatten(1)))
        return self.softmax(self.head(x))


def cross_entropy(probs, onehot, eps=1e-7):
    probs = probs.clamp(eps, 1 - eps)
    return -(onehot * torch.log(probs)).sum(dim=1).mean()


x_train, y_train = bars(1000)
x_val, y_val = bars(200)
onehot_train = torch.eye(C)[y_train]

model = SmallCNN()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
batch = 50


def predict(image):
    """Classify one image, as at inference time."""
    with torch.no_grad():
        return model(image.unsqueeze(0)).argmax(dim=1).item()


for epoch in range(8):
    perm = torch.randperm(len(x_train))
    running = 0.0
    for i in range(0, len(x_train), batch):
        idx = perm[i:i + batch]
        probs = model(x_train[idx])
        loss = cross_entropy(probs, onehot_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item()
    acc = sum(predict(x_val[j]) == y_val[j].item() for j in range(len(x_val))) / len(x_val)
    print(f"epoch {epoch:2d}  loss {running / (len(x_train) // batch):.4f}  val acc (one image at a time) {acc:.3f}")
