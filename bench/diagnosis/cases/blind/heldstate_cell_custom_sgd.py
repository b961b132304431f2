# source: https://github.com/yunjey/pytorch-tutorial/issues/90
# expect: state-not-detached
# category: lm
# bug: a hand-written LSTM cell char LM carries (h, c) across truncated-BPTT chunks without detaching; backward(retain_graph=True) plus an old-style optimizer that writes p.data keeps it running while every backward goes through all earlier chunks with stale weights
import time
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import Optimizer

torch.manual_seed(10)


class MomentumSGD(Optimizer):
    def __init__(self, params, lr=0.1, momentum=0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "buf" not in state:
                    state["buf"] = torch.zeros_like(p.data)
                buf = state["buf"]
                buf.mul_(group["momentum"]).add_(p.grad.data)
                p.data.add_(buf, alpha=-group["lr"])


class LSTMCell(nn.Module):
    def __init__(self, n_in, n_hid):
        super().__init__()
        self.x2g = nn.Linear(n_in, 4 * n_hid)
        self.h2g = nn.Linear(n_hid, 4 * n_hid, bias=False)

    def forward(self, x, state):
        h, c = state
        i, f, g, o = (self.x2g(x) + self.h2g(h)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class CharRNN(nn.Module):
    def __init__(self, vocab, hid):
        super().__init__()
        self.hid = hid
        self.emb = nn.Embedding(vocab, 16)
        self.cell = LSTMCell(16, hid)
        self.out = nn.Linear(hid, vocab)

    def forward(self, chunk, state):  # chunk: (batch, time)
        outs = []
        for t in range(chunk.size(1)):
            state = self.cell(self.emb(chunk[:, t]), state)
            outs.append(self.out(state[0]))
        return torch.stack(outs, 1), state


text = "abcdefghij" * 4000
vocab = sorted(set(text))
ids = torch.tensor([vocab.index(ch) for ch in text])
noise = torch.rand(len(ids)) < 0.2
ids = torch.where(noise, torch.randint(len(vocab), ids.shape), ids)
batch, seq = 8, 8
streams = ids[: (len(ids) // batch) * batch].view(batch, -1)

model = CharRNN(len(vocab), 48)
opt = MomentumSGD(model.parameters(), lr=0.05)
state = (torch.zeros(batch, 48), torch.zeros(batch, 48))

t0 = time.time()
for step in range(80):
    pos = step * seq
    x = streams[:, pos:pos + seq]
    y = streams[:, pos + 1:pos + seq + 1]
    logits, state = model(x, state)
    loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
    opt.zero_grad()
    loss.backward(retain_graph=True)
    opt.step()
    if step % 10 == 0 or step == 79:
        print(f"step {step:3d} loss {loss.item():.4f}  elapsed {time.time() - t0:.2f}s")
