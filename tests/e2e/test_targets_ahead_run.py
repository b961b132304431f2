"""`traindoctor run` with its defaults on next-step targets: token ids scored two or more positions ahead (shifted
in the data and again in the model or the loss) are `targets-too-far-ahead`; one position ahead, and a
real-valued series forecast several steps ahead on purpose, are not."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
V, T = 32, 24
data = torch.randint(0, V, (512, T + 4))
data[:, 1::2] = (data[:, 0::2][:, :data[:, 1::2].shape[1]] * 3 + 1) % V  # odd tokens follow the even ones
"""

GRU_LM = PRELUDE + """
class LM(nn.Module):
    def __init__(self): super().__init__(); self.emb = nn.Embedding(V, 32); self.rnn = nn.GRU(32, 64, batch_first=True); self.out = nn.Linear(64, V)
    def forward(self, x): return self.out(self.rnn(self.emb(x))[0])
model = LM(); opt = torch.optim.Adam(model.parameters(), 3e-3)
for step in range(60):
    b = data[torch.randint(0, 512, (32,))]
    x, y = b[:, :T], b[:, SHIFT:T + SHIFT]
    loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
"""

CONV_LM_TIME_LAST = PRELUDE + """
class LM(nn.Module):  # (B, C, T) inside, logits (B, V, T) for cross_entropy
    def __init__(self): super().__init__(); self.emb = nn.Embedding(V, 32); self.conv = nn.Conv1d(32, 64, 3); self.out = nn.Conv1d(64, V, 1)
    def forward(self, x): return self.out(F.relu(self.conv(F.pad(self.emb(x).transpose(1, 2), (2, 0)))))
model = LM(); opt = torch.optim.Adam(model.parameters(), 3e-3)
for step in range(60):
    b = data[torch.randint(0, 512, (32,))]
    loss = F.cross_entropy(model(b[:, :T]), b[:, SHIFT:T + SHIFT])
    opt.zero_grad(); loss.backward(); opt.step()
"""

HF_GPT2 = """
import torch
from transformers import GPT2Config, GPT2LMHeadModel
torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config(vocab_size=48, n_positions=32, n_embd=32, n_layer=1, n_head=2))
opt = torch.optim.AdamW(model.parameters(), 1e-3)
data = torch.randint(0, 48, (256, 21))
for step in range(40):
    b = data[torch.randint(0, 256, (16,))]
    batch = {"input_ids": b[:, :20], "labels": LABELS}
    loss = model(**batch).loss
    opt.zero_grad(); loss.backward(); opt.step()
"""

SERIES_AHEAD = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
t = torch.arange(0, 4000, dtype=torch.float32)
series = (torch.sin(t / 7) + 0.1 * torch.randn(4000)).unfold(0, 40, 10)  # (samples, 40)
model = nn.GRU(1, 32, batch_first=True); head = nn.Linear(32, 1)
opt = torch.optim.Adam([*model.parameters(), *head.parameters()], 3e-3)
for step in range(60):
    b = series[torch.randint(0, len(series), (32,))]
    pred = head(model(b[:, :36, None])[0]).squeeze(-1)
    loss = F.mse_loss(pred, b[:, 3:39])  # forecast three steps ahead, by design
    opt.zero_grad(); loss.backward(); opt.step()
"""

BROKEN = {
    "gru-sliced-two-ahead": GRU_LM.replace("SHIFT", "2"),
    "conv-time-last-three-ahead": CONV_LM_TIME_LAST.replace("SHIFT", "3"),
    "hf-labels-shifted-by-the-collator-too": HF_GPT2.replace("LABELS", "b[:, 1:21]"),
}
HEALTHY = {
    "gru-next-token": GRU_LM.replace("SHIFT", "1"),
    "conv-next-token": CONV_LM_TIME_LAST.replace("SHIFT", "1"),
    "hf-labels-equal-to-the-inputs": HF_GPT2.replace("LABELS", "b[:, :20]"),
    "series-forecast-three-ahead": SERIES_AHEAD,
}


@pytest.mark.parametrize("name", BROKEN)
def test_token_targets_two_or_more_ahead_are_flagged(run_code, name):
    r = run_code(BROKEN[name])
    assert codes(r)[:1] == ["targets-too-far-ahead"], [(f.code, f.observation) for f in r.findings]


@pytest.mark.parametrize("name", HEALTHY)
def test_one_ahead_or_a_series_forecast_is_not(run_code, name):
    r = run_code(HEALTHY[name])
    assert "targets-too-far-ahead" not in codes(r), [(f.code, f.observation) for f in r.findings]
    assert [f.code for f in r.findings if f.severity in ("error", "warning")] == [], [(f.code, f.observation) for f in r.findings]
