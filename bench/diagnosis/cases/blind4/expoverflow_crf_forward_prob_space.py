# source: PyTorch tutorial "Advanced: Making Dynamic Decisions and the Bi-LSTM CRF" (uses log_sum_exp in _forward_alg); GitHub issues on hand-written BiLSTM-CRF ports (e.g. kaniblu/pytorch-bilstmcrf, "loss becomes inf/nan") where the forward algorithm was run on exp'd scores
# expect: nonfinite-forward, loss-nonfinite-region
# category: sequence
# bug: BiLSTMCRF.log_partition runs the CRF forward algorithm in probability space (alpha * exp(trans) * exp(emit), log only at the end); as the unbounded emission scores grow the product over 40 time steps exceeds float32 range, alpha becomes inf, log Z = inf and the loss/gradients become inf/NaN
import random

import torch
import torch.nn as nn

torch.manual_seed(123)
random.seed(123)

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
N_TAGS = len(TAGS)
VOCAB = 120
SEQ_LEN = 40
PER_TRIGGER, LOC_TRIGGER = 2, 3        # "mr", "in"
NAME_TOK = range(10, 40)
PLACE_TOK = range(40, 70)


def make_sentence():
    toks, tags = [], []
    while len(toks) < SEQ_LEN:
        r = random.random()
        if r < 0.15:
            toks += [PER_TRIGGER] + random.sample(NAME_TOK, 2)
            tags += [0, 1, 2]
        elif r < 0.3:
            n = random.randint(1, 2)
            toks += [LOC_TRIGGER] + random.sample(PLACE_TOK, n)
            tags += [0, 3] + [4] * (n - 1)
        else:
            toks.append(random.randrange(70, VOCAB))
            tags.append(0)
    return toks[:SEQ_LEN], tags[:SEQ_LEN]


def make_corpus(n):
    pairs = [make_sentence() for _ in range(n)]
    return torch.tensor([p[0] for p in pairs]), torch.tensor([p[1] for p in pairs])


class BiLSTMCRF(nn.Module):
    def __init__(self, emb=48, hidden=64):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.emit = nn.Linear(2 * hidden, N_TAGS)
        self.trans = nn.Parameter(torch.randn(N_TAGS, N_TAGS) * 0.1)   # trans[i, j]: score i -> j
        self.start = nn.Parameter(torch.zeros(N_TAGS))

    def emissions(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.emit(h)                                            # (B, T, K)

    def log_partition(self, em):
        alpha = torch.exp(self.start + em[:, 0])                       # (B, K)
        for t in range(1, em.size(1)):
            alpha = (alpha.unsqueeze(2) * torch.exp(self.trans).unsqueeze(0)).sum(1) * torch.exp(em[:, t])
        return torch.log(alpha.sum(1))

    def gold_score(self, em, tags):
        s = self.start[tags[:, 0]] + em[:, 0].gather(1, tags[:, :1]).squeeze(1)
        for t in range(1, em.size(1)):
            s = s + self.trans[tags[:, t - 1], tags[:, t]] + em[:, t].gather(1, tags[:, t:t + 1]).squeeze(1)
        return s

    def nll(self, x, tags):
        em = self.emissions(x)
        return (self.log_partition(em) - self.gold_score(em, tags)).mean()

    @torch.no_grad()
    def viterbi(self, x):
        em = self.emissions(x)
        score = self.start + em[:, 0]
        back = []
        for t in range(1, em.size(1)):
            cand = score.unsqueeze(2) + self.trans.unsqueeze(0)
            score, idx = cand.max(1)
            score = score + em[:, t]
            back.append(idx)
        best = [score.argmax(1)]
        for idx in reversed(back):
            best.append(idx.gather(1, best[-1].unsqueeze(1)).squeeze(1))
        return torch.stack(best[::-1], 1)


Xtr, Ytr = make_corpus(1500)
Xte, Yte = make_corpus(300)
model = BiLSTMCRF()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)
step = 0
for epoch in range(4):
    perm = torch.randperm(len(Xtr))
    for b in range(0, len(Xtr), 32):
        idx = perm[b:b + 32]
        loss = model.nll(Xtr[idx], Ytr[idx])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        if step % 4 == 0:
            print(f"step {step:3d} crf_nll {loss.item():.4f}")
    pred = model.viterbi(Xte)
    ent = Yte != 0
    print(f"epoch {epoch} entity-token acc {(pred[ent] == Yte[ent]).float().mean().item():.3f}")
