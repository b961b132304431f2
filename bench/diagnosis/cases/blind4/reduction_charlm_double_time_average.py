# source: pytorch/examples word_language_model (manual SGD update on a token-mean loss) ported with the TF PTB-tutorial habit of dividing the loss by num_steps; cf. PyTorch forum "CrossEntropyLoss already averages - dividing by sequence length makes training extremely slow"
# expect: lr-too-low, slow-convergence, wrong-loss-reduction
# category: lm
# bug: sequence_loss() takes F.cross_entropy (already a mean over all T*B tokens) and divides it again by the number of time steps (35), so the manual SGD update (lr=2.0) acts like lr ~0.057 and the LM crawls
import math
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

random.seed(0)
torch.manual_seed(0)

BPTT, BATCH, LR, CLIP = 35, 20, 2.0, 5.0

SUBJ = ["the cat", "a dog", "my friend", "the old man", "our teacher", "this robot"]
VERB = ["sees", "likes", "finds", "builds", "paints", "follows"]
OBJ = ["the red ball", "a small house", "the river", "some bread", "a green car", "the moon"]
ADV = ["today", "again", "slowly", "at night", "with joy", ""]


def make_text(n_sent):
    out = []
    for _ in range(n_sent):
        s = f"{random.choice(SUBJ)} {random.choice(VERB)} {random.choice(OBJ)} {random.choice(ADV)}".strip()
        out.append(s + ". ")
    return "".join(out)


text = make_text(3000)
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text])
n_train = int(0.9 * len(data))


def batchify(d, bsz):
    nb = d.size(0) // bsz
    return d[:nb * bsz].view(bsz, -1).t().contiguous()       # (T_total, B), time-first


train_data = batchify(data[:n_train], BATCH)
val_data = batchify(data[n_train:], 10)


class CharRNN(nn.Module):
    def __init__(self, ntoken, ninp=64, nhid=128):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.GRU(ninp, nhid)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x, h):
        out, h = self.rnn(self.encoder(x), h)
        return self.decoder(out), h


def get_batch(src, i):
    L = min(BPTT, len(src) - 1 - i)
    return src[i:i + L], src[i + 1:i + 1 + L]


def sequence_loss(logits, targets):
    """Cross-entropy per time step, averaged over the sequence."""
    T = targets.size(0)
    return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1)) / T


def evaluate(model):
    model.eval()
    h, tot, n = None, 0.0, 0
    with torch.no_grad():
        for i in range(0, val_data.size(0) - 1, BPTT):
            x, y = get_batch(val_data, i)
            out, h = model(x, h)
            tot += F.cross_entropy(out.view(-1, out.size(-1)), y.reshape(-1), reduction="sum").item()
            n += y.numel()
    model.train()
    return tot / n


model = CharRNN(len(chars))
print(f"vocab {len(chars)}, train tokens {n_train}, uniform loss {math.log(len(chars)):.3f}")
for epoch in range(1, 3):
    h = None
    for batch, i in enumerate(range(0, train_data.size(0) - 1, BPTT)):
        x, y = get_batch(train_data, i)
        if h is not None:
            h = h.detach()
        model.zero_grad()
        out, h = model(x, h)
        loss = sequence_loss(out, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-LR)
        if batch % 50 == 0:
            print(f"epoch {epoch} batch {batch:3d} loss {loss.item():.4f}")
    vl = evaluate(model)
    print(f"| end of epoch {epoch} | valid loss {vl:.3f} | valid ppl {math.exp(vl):.2f}")
