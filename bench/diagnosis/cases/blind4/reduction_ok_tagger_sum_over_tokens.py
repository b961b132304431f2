# source: AllenNLP `sequence_cross_entropy_with_logits` (sum of token losses divided by the number of unmasked tokens) and the PyTorch forum thread "How to accumulate gradients correctly" (divide by accumulation steps exactly once)
# expect: healthy
# category: sequence
# bug: none - the loss uses reduction='sum' but is divided by the number of real (non-pad) tokens in the accumulated window, and the accumulation division happens only once, so each SGD step sees a proper per-token mean gradient
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

random.seed(5)
torch.manual_seed(5)

PAD = 0
TAGS = ["<pad>", "DET", "ADJ", "NOUN", "VERB", "ADV", "PREP"]
LEX = {
    "DET": ["the", "a", "this", "every"], "ADJ": ["red", "big", "quiet", "old", "fast"],
    "NOUN": ["dog", "river", "table", "bird", "city", "plan"], "VERB": ["runs", "sees", "moves", "likes"],
    "ADV": ["slowly", "often", "today"], "PREP": ["near", "under", "with"],
}
# ambiguous words: tag depends on context
LEX["NOUN"] += ["run", "fast"]
LEX["VERB"] += ["run", "plan"]
WORDS = sorted({w for ws in LEX.values() for w in ws})
W2I = {w: k + 1 for k, w in enumerate(WORDS)}


def np_phrase():
    return [("DET", random.choice(LEX["DET"]))] + [("ADJ", random.choice(LEX["ADJ"]))
                                                     for _ in range(random.randint(0, 2))] + [("NOUN", random.choice(LEX["NOUN"]))]


def sentence():
    s = np_phrase() + [("VERB", random.choice(LEX["VERB"]))]
    if random.random() < 0.6:
        s += np_phrase()
    if random.random() < 0.5:
        s += [("PREP", random.choice(LEX["PREP"]))] + np_phrase()
    if random.random() < 0.4:
        s += [("ADV", random.choice(LEX["ADV"]))]
    return s


class TaggedSentences(Dataset):
    def __init__(self, n):
        self.data = [sentence() for _ in range(n)]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, k):
        s = self.data[k]
        return torch.tensor([W2I[w] for _, w in s]), torch.tensor([TAGS.index(t) for t, _ in s])


def collate(batch):
    xs, ys = zip(*batch)
    return pad_sequence(xs, batch_first=True, padding_value=PAD), pad_sequence(ys, batch_first=True, padding_value=PAD)


class BiLSTMTagger(nn.Module):
    def __init__(self, vocab, n_tags, emb=32, hid=64):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb, padding_idx=PAD)
        self.lstm = nn.LSTM(emb, hid, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hid, n_tags)

    def forward(self, x):
        h, _ = self.lstm(self.emb(x))
        return self.out(h)


train_dl = DataLoader(TaggedSentences(3000), batch_size=16, shuffle=True, collate_fn=collate)
xv, yv = collate([TaggedSentences(500)[k] for k in range(500)])
model = BiLSTMTagger(len(WORDS) + 1, len(TAGS))
opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
ACCUM = 4
step = 0
for epoch in range(1, 5):
    buffer = []
    for k, (x, y) in enumerate(train_dl):
        buffer.append((x, y))
        if len(buffer) < ACCUM:
            continue
        n_tokens = sum((yy != PAD).sum() for _, yy in buffer)
        opt.zero_grad()
        total = 0.0
        for xx, yy in buffer:
            logits = model(xx)
            loss = F.cross_entropy(logits.reshape(-1, len(TAGS)), yy.reshape(-1), ignore_index=PAD, reduction="sum")
            (loss / n_tokens).backward()
            total += loss.item()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        buffer.clear()
        step += 1
        if step % 20 == 0:
            print(f"step {step:3d} token_loss {total / n_tokens.item():.4f}")
    with torch.no_grad():
        pred = model(xv).argmax(-1)
        m = yv != PAD
        acc = (pred[m] == yv[m]).float().mean().item()
    print(f"epoch {epoch} val_token_acc {acc:.4f}")
