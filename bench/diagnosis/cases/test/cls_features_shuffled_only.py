# source: https://github.com/DrexelChatbotGroup/DrexelChatbot/issues/15
# expect: labels-decoupled, input-ignored
# category: classification
# bug: the home-made loader's shuffle() permutes the feature array but not the label array, so after the first shuffle every x is paired with some other sample's label and the loss stays at chance (TheDeepChecker's "only the features shuffled" fault)
"""A numpy batch loader class with its own shuffle(); an MLP trained with SGD + momentum."""
import numpy as np
import torch
import torch.nn as nn


class ArrayLoader:
    def __init__(self, features, labels, batch_size=64, shuffle=True, seed=0):
        self.features = features
        self.labels = labels
        self.batch_size = batch_size
        self.do_shuffle = shuffle
        self.rng = np.random.default_rng(seed)

    def shuffle(self):
        idx = np.arange(len(self.features))
        self.rng.shuffle(idx)
        self.features = self.features[idx]

    def __iter__(self):
        if self.do_shuffle:
            self.shuffle()
        for i in range(0, len(self.features), self.batch_size):
            xb = torch.from_numpy(self.features[i:i + self.batch_size])
            yb = torch.from_numpy(self.labels[i:i + self.batch_size])
            yield xb, yb

    def __len__(self):
        return (len(self.features) + self.batch_size - 1) // self.batch_size


def make_dataset(n=2000, d=12, c=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.0, size=(c, d))
    y = rng.integers(0, c, size=n)
    x = centers[y] + rng.normal(0, 1.0, size=(n, d))
    return x.astype(np.float32), y.astype(np.int64)


def main():
    torch.manual_seed(0)
    x, y = make_dataset()
    loader = ArrayLoader(x, y, batch_size=64)
    model = nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    x_eval, y_eval = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(15):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = crit(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item()
        with torch.no_grad():
            acc = (model(x_eval).argmax(1) == y_eval).float().mean().item()
        print(f"epoch {epoch:2d}  loss {total / len(loader):.4f}  acc on the original pairs {acc:.3f}")


if __name__ == "__main__":
    main()
