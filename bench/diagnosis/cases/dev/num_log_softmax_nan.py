# source: https://github.com/allenai/allennlp/issues/2797
# expect: nonfinite-forward, log-of-softmax, unguarded-op
# category: lm
# bug: the loss is written as -(onehot * torch.log(softmax(logits))).sum(); once the model is confident, softmax of the losing tokens underflows to exactly 0, log(0) = -inf and 0 * -inf = NaN, so the loss and then every weight turn NaN
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

VOCAB, SEQ, BATCH = 24, 32, 16


def make_corpus(n_seq):
    # a deterministic "grammar": each token is followed by (5 * tok + 3) % VOCAB
    start = torch.randint(0, VOCAB, (n_seq, 1))
    toks = [start]
    for _ in range(SEQ):
        toks.append((5 * toks[-1] + 3) % VOCAB)
    return torch.cat(toks, dim=1)


class BigramLM(nn.Module):
    def __init__(self, vocab, dim=48):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU())
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        return self.out(self.mlp(self.emb(idx)))


def lm_loss(logits, targets):
    # hand-written cross-entropy
    probs = F.softmax(logits, dim=-1)
    onehot = F.one_hot(targets, VOCAB).float()
    return -(onehot * torch.log(probs)).sum(-1).mean()


corpus = make_corpus(256)
model = BigramLM(VOCAB)
opt = torch.optim.Adam(model.parameters(), lr=5e-2)

step = 0
for epoch in range(6):
    perm = torch.randperm(corpus.shape[0])
    for i in range(0, corpus.shape[0], BATCH):
        seq = corpus[perm[i:i + BATCH]]
        x, y = seq[:, :-1], seq[:, 1:]
        logits = model(x)
        loss = lm_loss(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}")
        step += 1
print("final loss", loss.item())
