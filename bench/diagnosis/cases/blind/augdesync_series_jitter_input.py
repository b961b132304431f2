# source: https://github.com/Pale-Blue-Dot-97/Minerva/issues/497
# expect: targets-displaced
# category: sequence
# bug: the Dataset's random time-jitter crop picks a shifted window for the signal but cuts the per-step event labels at the unshifted offset
import random
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import Dataset, DataLoader

random.seed(0)
torch.manual_seed(0)
REC_LEN, WIN, MAX_JITTER = 160, 96, 12


def record():
    """One long accelerometer-like trace with bursts; label 1 while a burst is on."""
    sig = 0.2 * torch.randn(REC_LEN)
    lab = torch.zeros(REC_LEN, dtype=torch.long)
    for _ in range(random.randint(2, 5)):
        s = random.randint(0, REC_LEN - 10)
        d = random.randint(4, 10)
        sig[s:s + d] += torch.sin(torch.arange(d) * 2.5) * 1.5 + 0.8
        lab[s:s + d] = 1
    return sig, lab


class BurstWindows(Dataset):
    def __init__(self, n):
        self.recs = [record() for _ in range(n)]

    def __len__(self):
        return len(self.recs)

    def __getitem__(self, i):
        sig, lab = self.recs[i]
        start = random.randint(MAX_JITTER, REC_LEN - WIN - MAX_JITTER)
        jitter = random.randint(-MAX_JITTER, MAX_JITTER)
        x = sig[start + jitter:start + jitter + WIN]
        y = lab[start:start + WIN]
        return x.unsqueeze(-1), y


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(1, 32, batch_first=True, bidirectional=True)
        self.cls = nn.Linear(64, 2)

    def forward(self, x):
        h, _ = self.gru(x)
        return self.cls(h)


def run():
    loader = DataLoader(BurstWindows(800), batch_size=24, shuffle=True)
    model = Tagger()
    opt = torch.optim.RMSprop(model.parameters(), lr=3e-3)
    step = 0
    for epoch in range(4):
        for x, y in loader:
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, 2), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 20 == 0:
                pred = logits.argmax(-1)
                tp = ((pred == 1) & (y == 1)).sum().item()
                f1 = 2 * tp / max((pred == 1).sum().item() + (y == 1).sum().item(), 1)
                print(f"epoch {epoch} step {step} loss {loss.item():.4f} event_f1 {f1:.3f}")
            step += 1


if __name__ == "__main__":
    run()
