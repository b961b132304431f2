# source: https://github.com/flairNLP/flair/issues/1062 (truncated BPTT: the last hidden state of one block initialises the next block, detached) / pytorch/examples word_language_model repackage_hidden
# expect: healthy
# category: lm
# bug: none - the LSTM state is carried from chunk to chunk on purpose (stateful TBPTT over one long stream), and repackage_hidden() detaches the (h, c) tuple once per chunk before the forward pass, so each backward stays inside its own 35-step chunk
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

np.random.seed(0)
torch.manual_seed(0)

V = 24
# synthetic "corpus": a sparse 2nd-order Markov chain over V word ids
TRANS = np.random.dirichlet(np.ones(V) * 0.08, size=(V, V))
CUM = TRANS.cumsum(-1)


def generate_stream(n):
    out = np.zeros(n, dtype=np.int64)
    out[:2] = [0, 1]
    u = np.random.rand(n)
    for i in range(2, n):
        out[i] = min(np.searchsorted(CUM[out[i - 2], out[i - 1]], u[i]), V - 1)
    return torch.from_numpy(out)


def batchify(stream, bsz):
    n = stream.numel() // bsz
    return stream[: n * bsz].view(bsz, n).t().contiguous()     # [L, B]


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


class WordLSTM(nn.Module):
    def __init__(self, emb=32, hid=128):
        super().__init__()
        self.emb = nn.Embedding(V, emb)
        self.rnn = nn.LSTM(emb, hid)
        self.drop = nn.Dropout(0.1)
        self.dec = nn.Linear(hid, V)
        self.hid = hid

    def init_hidden(self, bsz):
        return (torch.zeros(1, bsz, self.hid), torch.zeros(1, bsz, self.hid))

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.drop(self.emb(x)), hidden)
        return self.dec(self.drop(out)), hidden


train = batchify(generate_stream(60000), 20)
valid = batchify(generate_stream(6000), 10)
model = WordLSTM()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
BPTT = 35


def evaluate(data):
    model.eval()
    hidden = model.init_hidden(data.shape[1])
    tot, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, data.shape[0] - 1, BPTT):
            sl = min(BPTT, data.shape[0] - 1 - i)
            out, hidden = model(data[i:i + sl], hidden)
            tot += F.cross_entropy(out.reshape(-1, V), data[i + 1:i + 1 + sl].reshape(-1), reduction="sum").item()
            n += sl * data.shape[1]
    model.train()
    return tot / n


for epoch in range(1, 5):
    hidden = model.init_hidden(train.shape[1])
    for b, i in enumerate(range(0, train.shape[0] - 1, BPTT)):
        sl = min(BPTT, train.shape[0] - 1 - i)
        x, y = train[i:i + sl], train[i + 1:i + 1 + sl]
        hidden = repackage_hidden(hidden)
        out, hidden = model(x, hidden)
        loss = F.cross_entropy(out.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
        if b % 30 == 0:
            print(f"epoch {epoch} batch {b:3d}  loss {loss.item():.4f}  ppl {np.exp(loss.item()):.2f}")
    vl = evaluate(valid)
    print(f"== epoch {epoch}  valid loss {vl:.4f}  valid ppl {np.exp(vl):.2f}")
