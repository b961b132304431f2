# source: https://github.com/yunjey/pytorch-tutorial/issues/90 ("language model detach(states)": why states are detached, and where) - helper from pytorch/examples word_language_model called at the wrong loop level
# expect: state-not-detached, graph-break
# category: lm
# bug: repackage_hidden() is called inside the per-character loop of the LSTMCell unroll instead of once per BPTT chunk, so every step is cut from the previous one; the char-LM learns local letter statistics but never the key that must be copied 4-7 characters later ("K....?K")
import random
import torch
import torch.nn as nn
import torch.nn.functional as F

random.seed(0)
torch.manual_seed(0)

KEYS = "ABCDEF"
FILL = "xyzw"
ALPHABET = KEYS + FILL + "?;"
stoi = {c: i for i, c in enumerate(ALPHABET)}


def make_corpus(n_records):
    recs = []
    for _ in range(n_records):
        k = random.choice(KEYS)
        filler = "".join(random.choice(FILL) for _ in range(random.randint(3, 6)))
        recs.append(k + filler + "?" + k + ";")
    return "".join(recs)


def batchify(text, bsz):
    ids = torch.tensor([stoi[c] for c in text])
    n = ids.numel() // bsz
    return ids[: n * bsz].view(bsz, n).t().contiguous()       # [L, B] time-first


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


class CharLSTM(nn.Module):
    def __init__(self, n_vocab, emb=16, hid=64):
        super().__init__()
        self.emb = nn.Embedding(n_vocab, emb)
        self.cell = nn.LSTMCell(emb, hid)
        self.out = nn.Linear(hid, n_vocab)
        self.hid = hid

    def init_hidden(self, bsz):
        return (torch.zeros(bsz, self.hid), torch.zeros(bsz, self.hid))

    def forward(self, chunk, hidden):
        logits = []
        for t in range(chunk.shape[0]):
            hidden = repackage_hidden(hidden)
            h, c = self.cell(self.emb(chunk[t]), hidden)
            hidden = (h, c)
            logits.append(self.out(h))
        return torch.stack(logits), hidden


def recall_accuracy(model, text):
    data = batchify(text, 1)
    hidden = model.init_hidden(1)
    with torch.no_grad():
        logits, _ = model(data[:-1], hidden)
    pred = logits.argmax(-1).squeeze(1)
    tgt = data[1:].squeeze(1)
    after_q = data[:-1].squeeze(1) == stoi["?"]
    return (pred[after_q] == tgt[after_q]).float().mean().item()


train = batchify(make_corpus(4000), 16)
val_text = make_corpus(200)
model = CharLSTM(len(ALPHABET))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
BPTT = 40
for epoch in range(1, 5):
    hidden = model.init_hidden(16)
    total, n = 0.0, 0
    for i in range(0, train.shape[0] - 1, BPTT):
        seq_len = min(BPTT, train.shape[0] - 1 - i)
        x, y = train[i:i + seq_len], train[i + 1:i + 1 + seq_len]
        logits, hidden = model(x, hidden)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        total += loss.item(); n += 1
        if n % 40 == 0:
            print(f"epoch {epoch} batch {n:3d}  loss {total / n:.4f}")
    print(f"== epoch {epoch}  train loss {total / n:.4f}  key-recall accuracy {recall_accuracy(model, val_text):.3f}")
