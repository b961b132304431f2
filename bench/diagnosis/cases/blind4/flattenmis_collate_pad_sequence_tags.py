# source: torch.nn.utils.rnn.pad_sequence (batch_first defaults to False, returns (T, B)) combined with a batch_first tagger; cf. https://github.com/inferno-pytorch/inferno/pull/101 (trainer assumed batch-first targets, sequence targets were time-first, giving wrong results)
# expect: targets-misaligned
# category: sequence
# bug: collate_fn pads the inputs with batch_first=True but the tag sequences with the default (time-first) layout, so logits.reshape(-1, C) (batch-major) is scored against tags.reshape(-1) (time-major) and each position gets another sequence's tag
import random
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset, DataLoader

random.seed(4)
torch.manual_seed(4)

NUC = {"A": 1, "C": 2, "G": 3, "T": 4}   # 0 = pad
N_TAGS = 3                                # 0 background, 1 inside CpG-run, 2 start of run
IGNORE = -100


def annotate(seq):
    """Tag positions inside 'CG' dinucleotide runs; first base of a run is tag 2."""
    tags = [0] * len(seq)
    for i in range(len(seq) - 1):
        if seq[i] == "C" and seq[i + 1] == "G":
            tags[i] = 1 if (i > 0 and tags[i - 1] != 0) else 2
            tags[i + 1] = 1
    return tags


class GenomeChunks(Dataset):
    def __init__(self, n):
        self.items = []
        for _ in range(n):
            L = random.randint(20, 60)
            gc_rich = random.random() < 0.5
            w = [0.15, 0.35, 0.35, 0.15] if gc_rich else [0.3, 0.2, 0.2, 0.3]
            seq = "".join(random.choices("ACGT", weights=w, k=L))
            self.items.append((seq, annotate(seq)))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        seq, tags = self.items[i]
        return torch.tensor([NUC[c] for c in seq]), torch.tensor(tags)


def collate(batch):
    seqs, tags = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    x = pad_sequence(seqs, batch_first=True, padding_value=0)
    y = pad_sequence(tags, padding_value=IGNORE)
    return x, y, lengths


class BiGRUTagger(nn.Module):
    def __init__(self, emb=16, hid=32):
        super().__init__()
        self.emb = nn.Embedding(5, emb, padding_idx=0)
        self.rnn = nn.GRU(emb, hid, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hid, N_TAGS)

    def forward(self, x):
        h, _ = self.rnn(self.emb(x))
        return self.proj(h)                     # (B, T, C)


train_dl = DataLoader(GenomeChunks(2000), batch_size=32, shuffle=True, collate_fn=collate)
val_dl = DataLoader(GenomeChunks(300), batch_size=100, collate_fn=collate)

model = BiGRUTagger()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
crit = nn.CrossEntropyLoss(ignore_index=IGNORE)


def token_accuracy():
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, _, lengths in val_dl:
            pred = model(x).argmax(-1)
            for b in range(x.size(0)):
                L = lengths[b].item()
                seq = "".join("_ACGT"[t] for t in x[b, :L].tolist())
                gold = torch.tensor(annotate(seq))
                correct += (pred[b, :L] == gold).sum().item()
                total += L
    return correct / total


for epoch in range(3):
    model.train()
    running = 0.0
    for step, (x, y, lengths) in enumerate(train_dl):
        logits = model(x)
        loss = crit(logits.reshape(-1, N_TAGS), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item()
        if step % 20 == 19:
            print(f"epoch {epoch} step {step + 1}  loss {running / 20:.4f}")
            running = 0.0
    print(f"epoch {epoch}  val token acc {token_accuracy():.3f}")
