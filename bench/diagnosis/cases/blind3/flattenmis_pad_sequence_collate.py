# source: https://github.com/bentrevett/pytorch-seq2seq/issues/166
# expect: targets-misaligned
# category: sequence
# bug: the collate pads inputs with batch_first=True but the labels with pad_sequence's default (time-first), so the flattened (B*T) logits meet (T*B) labels
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(4)
VOCAB, N_LABELS, PAD = 40, 6, 0


class TokenTagging(Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(10)
        self.table = torch.randint(0, N_LABELS, (VOCAB,), generator=g)
        self.items = []
        for _ in range(n):
            L = 12  # fixed length keeps the padding out of the picture
            toks = torch.randint(1, VOCAB, (L,), generator=g)
            self.items.append((toks, self.table[toks]))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def collate(batch):
    toks, labels = zip(*batch)
    x = pad_sequence(toks, batch_first=True, padding_value=PAD)
    y = pad_sequence(labels, padding_value=-100)
    return x, y


class Encoder(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d, padding_idx=PAD)
        self.pos = nn.Embedding(64, d)
        layer = nn.TransformerEncoderLayer(d, 4, 128, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(d, N_LABELS)

    def forward(self, x):
        pos = torch.arange(x.size(1)).unsqueeze(0)
        h = self.enc(self.emb(x) + self.pos(pos), src_key_padding_mask=(x == PAD))
        return self.head(h)


def train_one_epoch(model, loader, opt, epoch):
    model.train()
    tot, n = 0.0, 0
    for x, y in loader:
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, N_LABELS), y.view(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item()
        n += 1
    print(f"epoch {epoch}: loss {tot / n:.4f}")


ds = TokenTagging(800)
loader = DataLoader(ds, batch_size=32, shuffle=True, collate_fn=collate)
model = Encoder()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for ep in range(8):
    train_one_epoch(model, loader, opt, ep)
