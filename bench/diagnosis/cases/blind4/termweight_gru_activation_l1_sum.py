# source: https://github.com/keras-team/keras/pull/22021 (fixes keras#22018: "activity regularizer not normalized by batch size" - the activity penalty was summed over the batch so its strength scaled with batch size); Humbatova et al. ICSE 2020 taxonomy, loss/regularisation faults
# expect: loss-imbalance, over-regularization
# category: sequence
# bug: the model's activation-sparsity penalty sums |h| over batch, time and units (~1e5 elements) with a coefficient meant for a per-element mean, so its gradient on every state outweighs the cross-entropy's; the GRU states are driven to zero and the intent classifier stays near chance
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

random.seed(11)
np.random.seed(11)
torch.manual_seed(11)

VOCAB = 200
PAD = 0
N_CLASSES = 4
# each intent has a handful of trigger words; negation word flips to the "other" intent
TRIGGERS = {c: list(range(10 + 8 * c, 18 + 8 * c)) for c in range(N_CLASSES)}
NEG = 5


def make_utterance():
    c = random.randrange(N_CLASSES)
    length = random.randint(10, 24)
    toks = [random.randint(50, VOCAB - 1) for _ in range(length)]
    pos = random.randrange(length - 1)
    toks[pos] = random.choice(TRIGGERS[c])
    label = c
    if random.random() < 0.3:
        toks[pos - 1 if pos > 0 else pos + 1] = NEG
        label = (c + 2) % N_CLASSES
    return toks, label


def build(n):
    data = [make_utterance() for _ in range(n)]
    T = max(len(t) for t, _ in data)
    x = torch.full((n, T), PAD, dtype=torch.long)
    lens = torch.zeros(n, dtype=torch.long)
    for k, (toks, _) in enumerate(data):
        x[k, :len(toks)] = torch.tensor(toks)
        lens[k] = len(toks)
    y = torch.tensor([l for _, l in data])
    return x, lens, y


class IntentGRU(nn.Module):
    def __init__(self, emb=32, hid=64, act_l1=1e-4):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, emb, padding_idx=PAD)
        self.gru = nn.GRU(emb, hid, batch_first=True)
        self.out = nn.Linear(hid, N_CLASSES)
        self.act_l1 = act_l1
        self._states = None

    def forward(self, x, lens):
        h, _ = self.gru(self.emb(x))                  # (B, T, H)
        self._states = h
        last = h[torch.arange(x.size(0)), lens - 1]    # state at last real token
        return self.out(last)

    def regularizer(self):
        # sparse-activation prior on the recurrent states
        return self.act_l1 * self._states.abs().sum()


x_tr, l_tr, y_tr = build(4000)
x_te, l_te, y_te = build(1000)

model = IntentGRU()
opt = torch.optim.RMSprop(model.parameters(), lr=2e-3)
BS = 64

for epoch in range(8):
    model.train()
    perm = torch.randperm(len(y_tr))
    ce_sum, reg_sum, nb = 0.0, 0.0, 0
    for s in range(0, len(perm), BS):
        idx = perm[s:s + BS]
        logits = model(x_tr[idx], l_tr[idx])
        ce = F.cross_entropy(logits, y_tr[idx])
        reg = model.regularizer()
        loss = ce + reg
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        ce_sum += ce.item(); reg_sum += reg.item(); nb += 1
    model.eval()
    with torch.no_grad():
        acc = (model(x_te, l_te).argmax(1) == y_te).float().mean().item()
    print(f"epoch {epoch}  ce {ce_sum / nb:.4f}  act_reg {reg_sum / nb:.4f}  test_acc {acc:.3f}")
