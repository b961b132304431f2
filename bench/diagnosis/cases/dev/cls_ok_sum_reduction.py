# source: https://stats.stackexchange.com/questions/201452/is-it-common-practice-to-minimize-the-mean-loss-over-the-batches-instead-of-the
# expect: healthy
# category: classification
# bug: none - cross-entropy with reduction='sum', and the learning rate divided by the batch size to match, as the answer explains; the per-sample loss printed is sum / batch
"""Blobs classifier trained with a summed loss and a correspondingly smaller learning rate."""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


def make_data(n=2048, d=20, c=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(c, d, generator=g) * 1.5
    y = torch.randint(0, c, (n,), generator=g)
    x = centers[y] + torch.randn(n, d, generator=g)
    return x, y


def main():
    torch.manual_seed(1)
    x, y = make_data()
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)

    model = nn.Sequential(
        nn.Linear(20, 128), nn.ReLU(),
        nn.Linear(128, 64), nn.ReLU(),
        nn.Linear(64, 5),
    )
    criterion = nn.CrossEntropyLoss(reduction="sum")
    batch_size = loader.batch_size
    # the summed loss's gradient is batch_size times the mean's: scale the step down to match
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05 / batch_size, momentum=0.9)

    for epoch in range(6):
        total, count, correct = 0.0, 0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            total += loss.item()
            count += xb.shape[0]
            correct += (logits.argmax(dim=1) == yb).sum().item()
        print(f"epoch {epoch:2d}  loss/sample {total / count:.4f}  acc {correct / count:.3f}")


if __name__ == "__main__":
    main()
