# source: Humbatova et al., "Taxonomy of Real Faults in Deep Learning Systems" (ICSE 2020), Model > "Wrong weights initialisation"; pattern as in PyTorch-forum threads on hand-written conv init where all filters come out identical
# expect: symmetric-units
# category: classification
# bug: init_conv_ draws one (emb, k) filter and copy_ broadcasts it into all out_channels, so every filter of each conv bank is identical; with the zero-initialised classifier they get identical gradients and stay copies, leaving 3 effective features instead of 3x64
import math
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

random.seed(11)
np.random.seed(11)
torch.manual_seed(11)

VOCAB = 80
SEQ_LEN = 30
PAD = 0
N_TOPICS = 6
# each topic owns a few keyword ids; everything else is filler
TOPIC_WORDS = [list(range(2 + 4 * k, 6 + 4 * k)) for k in range(N_TOPICS)]
FILLER_LO = 2 + 4 * N_TOPICS


def make_posts(n):
    """Forum posts -> topic label = topic whose keywords occur most often."""
    X = torch.randint(FILLER_LO, VOCAB, (n, SEQ_LEN))
    y = torch.zeros(n, dtype=torch.long)
    for i in range(n):
        counts = [0] * N_TOPICS
        slots = random.sample(range(SEQ_LEN), random.randint(2, 6))
        for pos in slots:
            k = random.randrange(N_TOPICS)
            X[i, pos] = random.choice(TOPIC_WORDS[k])
            counts[k] += 1
        best = max(counts)
        y[i] = random.choice([k for k in range(N_TOPICS) if counts[k] == best])
    return X, y


def init_conv_(conv):
    """He-normal filters, zero bias (as in the Kim-CNN reference code)."""
    out_ch, in_ch, k = conv.weight.shape
    std = math.sqrt(2.0 / (in_ch * k))
    with torch.no_grad():
        conv.weight.copy_(torch.randn(in_ch, k) * std)
        conv.bias.zero_()


class KimCNN(nn.Module):
    def __init__(self, vocab, emb=32, n_filters=64, widths=(3, 4, 5), n_classes=N_TOPICS):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.convs = nn.ModuleList([nn.Conv1d(emb, n_filters, w, padding=w // 2) for w in widths])
        self.fc = nn.Linear(n_filters * len(widths), n_classes)
        for c in self.convs:
            init_conv_(c)
        # start from a uniform prediction
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, tokens):
        x = self.emb(tokens).transpose(1, 2)          # (B, E, T)
        feats = [F.relu(c(x)).amax(dim=2) for c in self.convs]
        return self.fc(torch.cat(feats, dim=1))


Xtr, ytr = make_posts(3000)
Xte, yte = make_posts(800)
print("label balance:", torch.bincount(ytr).tolist())

model = KimCNN(VOCAB)
opt = torch.optim.Adam(model.parameters(), lr=2e-3)
BATCH, STEPS = 50, 480
window = []
for step in range(1, STEPS + 1):
    idx = torch.randint(0, len(Xtr), (BATCH,))
    loss = F.cross_entropy(model(Xtr[idx]), ytr[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    window.append(loss.item())
    if step % 60 == 0:
        with torch.no_grad():
            acc = (model(Xte).argmax(1) == yte).float().mean().item()
        print(f"step {step:3d} train_loss {sum(window) / len(window):.4f} test_acc {acc:.3f}")
        window.clear()
