# source: https://city.shaform.com/en/2019/01/15/sort-sequences-in-pytorch/
# expect: healthy
# category: sequence
# bug: healthy - collate_fn sorts sequences by length for pack_padded_sequence and reorders the targets with the same index
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pad_sequence, pack_padded_sequence
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(41)


class SensorTraces(Dataset):
    """Variable-length traces; target = mean of the trace's last 3 readings (a smoothed end value)."""

    def __init__(self, n=1800):
        self.items = []
        for _ in range(n):
            L = torch.randint(6, 25, (1,)).item()
            drift = torch.randn(1) * 0.3
            trace = torch.cumsum(drift + 0.3 * torch.randn(L), 0).unsqueeze(-1)
            self.items.append((trace, trace[-3:].mean()))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def pad_collate(batch):
    traces, targets = zip(*batch)
    lengths = torch.tensor([len(t) for t in traces])
    lengths, order = lengths.sort(descending=True)
    traces = pad_sequence([traces[i] for i in order], batch_first=True)
    targets = torch.stack(targets)[order]
    return traces, lengths, targets


class Reader(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, 48, batch_first=True)
        self.head = nn.Linear(48, 1)

    def forward(self, x, lengths):
        _, (h, _) = self.lstm(pack_padded_sequence(x, lengths, batch_first=True))
        return self.head(h[-1]).squeeze(-1)


loader = DataLoader(SensorTraces(), batch_size=32, shuffle=True, collate_fn=pad_collate)
model = Reader()
opt = torch.optim.Adam(model.parameters(), lr=5e-3)

step = 0
for epoch in range(5):
    for x, lengths, y in loader:
        loss = nn.functional.mse_loss(model(x, lengths), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 30 == 0:
            print(f"epoch {epoch} step {step} mse {loss.item():.4f}")
        step += 1
