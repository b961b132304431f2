# source: https://github.com/thedeepchecker/thedeepchecker/blob/main/buggy_synthetic_programs/wrong_loss_function/baseCNN_wrong_loss.py
# expect: loss-reduction-wrong
# category: classification
# bug: the hand-written cross-entropy takes the mean over the class axis and the sum over the batch (mean and sum swapped), so the loss and its gradient are batch/classes = 64x the intended mean; with the learning rate tuned for a mean the training blows up (TheDeepChecker's wrong-reduction fault)
"""MLP on four blobs; cross-entropy written out by hand from log_softmax and one-hot targets."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(13)
N, D, C = 4096, 32, 4
BATCH = 256

means = torch.randn(C, D)
labels = torch.randint(0, C, (N,))
inputs = means[labels] + 1.2 * torch.randn(N, D)
targets = F.one_hot(labels, C).float()


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(D, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU())
        self.logits = nn.Linear(64, C)

    def forward(self, x):
        return self.logits(self.hidden(x))


def cross_entropy(logits, onehot):
    logp = F.log_softmax(logits, dim=1)
    per_entry = -(onehot * logp)
    return per_entry.mean(dim=1).sum()


model = Model()
opt = torch.optim.SGD(model.parameters(), lr=0.1)

step = 0
for epoch in range(12):
    perm = torch.randperm(N)
    for s in range(0, N, BATCH):
        idx = perm[s:s + BATCH]
        loss = cross_entropy(model(inputs[idx]), targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 16 == 0:
            with torch.no_grad():
                acc = (model(inputs).argmax(1) == labels).float().mean().item()
            print(f"step {step:3d}  loss {loss.item():.4f}  acc {acc:.3f}")
        step += 1
