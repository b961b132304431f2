# source: https://runebook.dev/en/docs/pytorch/generated/torch.nn.nllloss/torch.nn.NLLLoss
# expect: healthy
# category: sequence
# bug: none; the GRU tagger ends in log_softmax and is trained with nn.NLLLoss, the documented pairing
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)

VOCAB, N_TAGS, T = 30, 6, 12
token_tag = torch.randint(0, N_TAGS, (VOCAB,))


def batch(n):
    toks = torch.randint(0, VOCAB, (n, T))
    prev = torch.roll(toks, 1, dims=1)
    prev[:, 0] = 0
    tags = (token_tag[toks] + (prev % 2)) % N_TAGS
    return toks, tags


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 32)
        self.gru = nn.GRU(32, 64, batch_first=True)
        self.proj = nn.Linear(64, N_TAGS)

    def forward(self, toks):
        h, _ = self.gru(self.emb(toks))
        return F.log_softmax(self.proj(h), dim=-1)


tagger = Tagger()
loss_function = nn.NLLLoss()
optimizer = torch.optim.Adam(tagger.parameters(), lr=5e-3)

for step in range(300):
    toks, tags = batch(32)
    tag_scores = tagger(toks)
    loss = loss_function(tag_scores.view(-1, N_TAGS), tags.view(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 30 == 0 or step == 299:
        acc = (tag_scores.argmax(-1) == tags).float().mean().item()
        print(f"step {step}: loss {loss.item():.4f}, tag accuracy {acc:.3f}")
