# source: https://discuss.pytorch.org/t/help-clarifying-repackage-hidden-in-word-language-model/226 (what detaching should and should not cut); free-running seq2seq decoders that feed back prediction.detach() as the next input
# expect: healthy
# category: regression
# bug: none - inside the decoder's time loop only the fed-back PREDICTION is detached (the next input, as in free-running/scheduled-sampling training); the GRUCell hidden state h is carried with its full graph through all 12 decoding steps and back into the encoder, so BPTT is complete
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(19)

HIST, HORIZON = 36, 12


def make_load_curves(n):
    """Hourly load-like series: daily cycle + random level + slow trend + noise."""
    t = torch.arange(HIST + HORIZON).float()
    level = torch.rand(n, 1) * 2
    amp = 0.5 + torch.rand(n, 1)
    phase = torch.rand(n, 1) * 2 * math.pi
    trend = (torch.rand(n, 1) - 0.5) * 0.04
    y = level + amp * torch.sin(2 * math.pi * t / 24 + phase) + trend * t + 0.05 * torch.randn(n, HIST + HORIZON)
    return y[:, :HIST, None], y[:, HIST:]                   # [n, HIST, 1], [n, HORIZON]


class Seq2SeqForecaster(nn.Module):
    def __init__(self, hid=64):
        super().__init__()
        self.encoder = nn.GRU(1, hid, batch_first=True)
        self.dec_cell = nn.GRUCell(1, hid)
        self.proj = nn.Linear(hid, 1)

    def forward(self, history, horizon=HORIZON):
        _, h = self.encoder(history)
        h = h[0]
        inp = history[:, -1]                                  # last observed value
        preds = []
        for _ in range(horizon):
            h = self.dec_cell(inp, h)
            y = self.proj(h)
            preds.append(y)
            inp = y.detach()
        return torch.cat(preds, 1)


x_tr, y_tr = make_load_curves(2500)
x_va, y_va = make_load_curves(500)
model = Seq2SeqForecaster()
opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
naive = F.mse_loss(x_va[:, -1].expand(-1, HORIZON), y_va).item()
print(f"naive last-value baseline val mse {naive:.4f}")
for epoch in range(1, 9):
    perm = torch.randperm(len(x_tr))
    for i in range(0, len(x_tr), 100):
        idx = perm[i:i + 100]
        loss = F.mse_loss(model(x_tr[idx]), y_tr[idx])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    with torch.no_grad():
        v = F.mse_loss(model(x_va), y_va).item()
    print(f"epoch {epoch:2d}  train mse {loss.item():.4f}  val mse {v:.4f}")
