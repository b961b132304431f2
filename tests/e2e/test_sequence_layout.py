"""`traindoctor run`: sequence-first layers (LSTM, GRU, attention without batch_first) fed (batch, time)
tensors whose targets also have both axes — where shapes cannot tell the batch axis — are found by an
experiment: read with dim 1 as time, fitting one batch carries over to another. Three layers and
tasks; the same models fed (time, batch) as they expect stay quiet, the experiments asked for. And the
mirror: the same layers built batch_first=True but fed (time, batch), against the same models fed
(batch, time)."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

BROKEN = {
    "gru-running-sum": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(2, 32)                       # batch_first left False
        self.out = nn.Linear(32, 1)
    def forward(self, x):
        return self.out(self.rnn(x)[0]).squeeze(-1)
def batch():
    x = torch.randn(24, 20, 2)                         # (batch, time, features)
    return x, x[..., 0].cumsum(1) / 4                  # the running sum of each sequence
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(150):
    x, y = batch()
    loss = F.mse_loss(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "attention-sequence-mean": """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(3, 16)
        self.attn = nn.MultiheadAttention(16, 2)      # batch_first left False
        self.out = nn.Linear(16, 1)
    def forward(self, x):
        h = self.inp(x)
        return self.out(self.attn(h, h, h)[0]).squeeze(-1)
def batch():
    x = torch.randn(16, 12, 3)                         # (batch, time, features)
    return x, x[..., :1].mean(1).expand(-1, 12)        # every position: its own sequence's mean
model = Net(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(150):
    x, y = batch()
    loss = F.mse_loss(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "lstm-tagger-square": """
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 16)
        self.rnn = nn.LSTM(16, 32, num_layers=2)      # batch_first left False
        self.out = nn.Linear(32, 2)
    def forward(self, tokens):
        return self.out(self.rnn(self.emb(tokens))[0])
def batch():
    tokens = torch.randint(0, 10, (20, 20))            # (batch, time): as many samples as steps
    tags = torch.zeros(20, 20, dtype=torch.long)
    tags[:, 1:] = (tokens[:, :-1] >= 5).long()         # the previous token's half
    return tokens, tags
model = Tagger(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(150):
    tokens, tags = batch()
    loss = F.cross_entropy(model(tokens).reshape(-1, 2), tags.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

# The same programs with the data in the layout the layers expect: (time, batch).
HEALTHY = {
    "gru-time-first": BROKEN["gru-running-sum"].replace("return x, x[..., 0].cumsum(1) / 4",
                                                        "return x.transpose(0, 1), x[..., 0].cumsum(1).t() / 4"),
    "attention-time-first": BROKEN["attention-sequence-mean"].replace(
        "return x, x[..., :1].mean(1).expand(-1, 12)", "return x.transpose(0, 1), x[..., :1].mean(1).expand(-1, 12).t()"),
    "lstm-time-first": BROKEN["lstm-tagger-square"].replace("return tokens, tags", "return tokens.t(), tags.t()"),
}


# The mirror: the layers built batch_first=True. Fed (time, batch), they recur over the samples of dim 1;
# fed (batch, time), they are right.
BATCH_FIRST = {"nn.GRU(2, 32)": "nn.GRU(2, 32, batch_first=True)",
               "nn.MultiheadAttention(16, 2)": "nn.MultiheadAttention(16, 2, batch_first=True)",
               "nn.LSTM(16, 32, num_layers=2)": "nn.LSTM(16, 32, num_layers=2, batch_first=True)"}


def batch_first(source: str) -> str:
    for built, other in BATCH_FIRST.items():
        source = source.replace(built, other)
    return source.replace("# batch_first left False", "# batch_first=True")


BROKEN.update({f"batch-first-{name}-fed-time-first": batch_first(HEALTHY[name]) for name in list(HEALTHY)})
HEALTHY.update({f"batch-first-{name}-fed-batch-first": batch_first(BROKEN[name]) for name in list(BROKEN)
                if not name.startswith("batch-first-")})


@pytest.mark.parametrize("name", BROKEN)
def test_a_sequence_first_layer_fed_batch_first_is_found(run_code, name):
    r = run_code(PRELUDE + BROKEN[name])  # the defaults: the loss does not learn, so the experiments run
    assert codes(r)[:1] == ["batch-mixing"], codes(r)
    f = r.findings[0]
    assert f.evidence["confirmed_by"] == "experiment"


@pytest.mark.parametrize("name", HEALTHY)
def test_the_layout_they_expect_is_not(run_code, name):
    r = run_code(PRELUDE + HEALTHY[name], experiments_=True)
    assert "batch-mixing" not in codes(r), codes(r)
    observation = next(o for o in r.sections["run"]["experiments"]["observations"] if o["name"] == "other-layout")
    assert observation["kills"]
