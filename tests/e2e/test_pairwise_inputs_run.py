"""`traindoctor run`, default configuration: a model fed a samples x samples input beside the samples (a graph's
adjacency beside its node features, a mask of which items see each other) mixes the samples by design and is
not flagged for it; one that mixes them with no such input still is, and so is a graph model that hard-codes
its node count."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

FULL_BATCH_GCN = """
N = 160; y = (torch.arange(N) >= N // 2).long()
A = (torch.rand(N, N) < torch.where(y[:, None] == y[None, :], 0.1, 0.01)).float()
A = ((A + A.t()) > 0).float() + torch.eye(N); d = A.sum(1).rsqrt(); A = d[:, None] * A * d[None, :]
X = torch.randn(N, 12) + 0.5 * y[:, None]; train = torch.rand(N) < 0.4
class GCN(nn.Module):
    def __init__(self): super().__init__(); self.l1 = nn.Linear(12, 24); self.l2 = nn.Linear(24, 2)
    def forward(self, x, a): return a @ self.l2(RESHAPE(F.relu(a @ self.l1(x))))
m = GCN(); opt = torch.optim.Adam(m.parameters(), 1e-2)
for step in range(60):
    loss = F.cross_entropy(m(X, A)[train], y[train])
    opt.zero_grad(); loss.backward(); opt.step()
"""

SET_MASK = """
class SetNet(nn.Module):
    def __init__(self):
        super().__init__(); self.q = nn.Linear(6, 16); self.k = nn.Linear(6, 16); self.v = nn.Linear(6, 1)
    def forward(self, x, mask):
        return ((self.q(x) @ self.k(x).t() / 4).masked_fill(~mask, -1e9).softmax(-1) @ self.v(x)).squeeze(-1)
m = SetNet(); opt = torch.optim.Adam(m.parameters(), 1e-3)
for step in range(60):
    groups = torch.randint(0, 6, (48,)); x = torch.randn(48, 6)
    loss = F.mse_loss(m(x, groups[:, None] == groups[None, :]), x[:, 0])
    opt.zero_grad(); loss.backward(); opt.step()
"""

AGGREGATING_WITHOUT_ADJACENCY = """
X = torch.randn(512, 16); Y = (X[:, 0] > 0).long()
class M(nn.Module):
    def __init__(self): super().__init__(); self.l1 = nn.Linear(16, 32); self.l2 = nn.Linear(32, 2)
    def forward(self, x, lengths):
        h = F.relu(self.l1(x)); return self.l2((h @ h.t()).softmax(1) @ h)
m = M(); opt = torch.optim.Adam(m.parameters(), 1e-3)
for step in range(60):
    i = (step * 32) % 512
    loss = F.cross_entropy(m(X[i:i + 32], torch.full((32,), 16)), Y[i:i + 32])
    opt.zero_grad(); loss.backward(); opt.step()
"""


ONE_HOT_IDS = FULL_BATCH_GCN.replace("RESHAPE", "").replace("X = torch.randn(N, 12) + 0.5 * y[:, None]", "X = torch.eye(N)").replace(
    "nn.Linear(12, 24)", "nn.Linear(N, 24)")


@pytest.mark.parametrize("source", [FULL_BATCH_GCN.replace("RESHAPE", ""), SET_MASK, ONE_HOT_IDS],
                         ids=["gcn", "set-mask", "gcn-one-hot-node-ids"])
def test_samples_that_interact_through_an_input_table_are_not_flagged(run_code, source):
    r = run_code(PRELUDE + source)
    assert not {"batch-mixing", "batch-size-assumption"} & set(codes(r)), codes(r)
    independence = next(p for p in r.sections["run"]["probes"] if p["name"] == "batch-independence")
    assert "interact by design" in independence["note"]


def test_a_model_mixing_samples_without_an_input_table_is_flagged(run_code):
    assert codes(run_code(PRELUDE + AGGREGATING_WITHOUT_ADJACENCY))[:1] == ["batch-mixing"]


def test_a_graph_model_that_hard_codes_its_node_count_is_flagged(run_code):
    r = run_code(PRELUDE + FULL_BATCH_GCN.replace("RESHAPE", "(lambda h: h.reshape(160, 24))"))
    assert "batch-size-assumption" in codes(r) and "batch-mixing" not in codes(r), codes(r)
