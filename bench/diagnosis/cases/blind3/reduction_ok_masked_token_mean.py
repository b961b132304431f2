# source: https://github.com/jfzhang95/pytorch-deeplab-xception/issues/55
# expect: healthy
# category: sequence
# bug: per-token losses (reduction='none') are summed and divided once by the number of real tokens: a single, correct masked mean
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(6)

vocab, n_tags, max_len, pad = 30, 5, 24, 0


def make_batch(bs=32):
    lengths = torch.randint(6, max_len + 1, (bs,))
    x = torch.randint(1, vocab, (bs, max_len))
    tags = x % n_tags
    mask = torch.arange(max_len)[None, :] < lengths[:, None]
    x = x.masked_fill(~mask, pad)
    tags = tags.masked_fill(~mask, 0)
    return x, tags, mask


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(vocab, 32, padding_idx=pad)
        self.rnn = nn.LSTM(32, 48, batch_first=True, bidirectional=True)
        self.out = nn.Linear(96, n_tags)

    def forward(self, x):
        h, _ = self.rnn(self.emb(x))
        return self.out(h)


model = Tagger()
opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)

for step in range(1, 251):
    x, tags, mask = make_batch()
    logits = model(x)
    tok_loss = F.cross_entropy(logits.transpose(1, 2), tags, reduction="none")
    loss = (tok_loss * mask).sum() / mask.sum()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step == 1 or step % 25 == 0:
        acc = ((logits.argmax(-1) == tags) & mask).sum().item() / mask.sum().item()
        print(f"step {step} loss {loss.item():.4f} tag acc {acc:.3f}")
