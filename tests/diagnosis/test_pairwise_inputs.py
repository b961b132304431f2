"""A batch with a samples x samples input (a graph's adjacency, a mask of which items see each other) beside an
input holding the samples on one dim declares that the samples interact: batch-independence skips and says so,
and the odd-batch probe cuts the table on both dims (the sub-graph). A square batch alone (64 samples of 64
features) is a coincidence of sizes, still judged."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import codes, validate
from traindoctor import checkup

PROBES = ("batch-independence", "odd-batch")


def check(model, inputs):
    return validate(checkup(model, (inputs, None), probes=PROBES, progress=False))


def probe(report, name):
    return next(p for p in report.sections["checkup"]["probes"] if p["name"] == name)


def graph(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < 0.1).float()
    a = ((a + a.t()) > 0).float() + torch.eye(n)
    return a / a.sum(1, keepdim=True)


class GCN(nn.Module):  # features first, dense normalised adjacency second
    def __init__(self, d=16):
        super().__init__()
        torch.manual_seed(0)
        self.l1, self.l2 = nn.Linear(d, 32), nn.Linear(32, 2)

    def forward(self, x, a):
        return a @ self.l2(F.relu(a @ self.l1(x)))


class MeanAggregation(nn.Module):  # boolean adjacency first, features second
    def __init__(self, d=8):
        super().__init__()
        torch.manual_seed(0)
        self.own, self.nb, self.out = nn.Linear(d, 16), nn.Linear(d, 16), nn.Linear(16, 3)

    def forward(self, adj, x):
        a = adj.float()
        return self.out(F.relu(self.own(x) + self.nb(a @ x / a.sum(1, keepdim=True).clamp_min(1))))


class SetAttention(nn.Module):  # items attend to the items of their set, a B x B mask
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.q, self.k, self.v = nn.Linear(6, 16), nn.Linear(6, 16), nn.Linear(6, 1)

    def forward(self, x, mask):
        att = (self.q(x) @ self.k(x).t()).masked_fill(~mask, -1e9).softmax(-1)
        return att @ self.v(x)


class FixedNodes(GCN):  # a forward that hard-codes the node count
    def forward(self, x, a):
        return a @ self.l2(F.relu(a @ self.l1(x)).reshape(120, 32))


class BatchSoftmax(nn.Module):  # mixes the samples: a softmax over the batch axis
    def __init__(self, d=64):
        super().__init__()
        torch.manual_seed(0)
        self.a, self.b = nn.Linear(d, 32), nn.Linear(32, 2)

    def forward(self, x, lengths=None):
        return self.b(F.relu(self.a(x)).softmax(0))


def sets(n=60):
    groups = torch.randint(0, 6, (n,), generator=torch.Generator().manual_seed(0))
    return groups[:, None] == groups[None, :]


HEALTHY = {
    "gcn-200-nodes": lambda: (GCN(), (torch.randn(200, 16), graph(200))),
    # node features as wide as the nodes are many: one-hot node ids, or 96 features of 96 nodes
    "gcn-one-hot-node-ids": lambda: (GCN(150), (torch.eye(150), graph(150))),
    "gcn-as-many-features-as-nodes": lambda: (GCN(96), (torch.randn(96, 96), graph(96))),
    "mean-aggregation-one-hot-ids-second": lambda: (MeanAggregation(90), (graph(90) > 0, torch.eye(90))),
    "mean-aggregation-adjacency-first": lambda: (MeanAggregation(), (graph(150) > 0, torch.randn(150, 8))),
    "set-attention-mask": lambda: (SetAttention(), (torch.randn(60, 6), sets())),
}


@pytest.mark.parametrize("name", HEALTHY)
def test_samples_that_interact_by_design_are_not_judged(name):
    model, inputs = HEALTHY[name]()
    report = check(model, inputs)
    assert codes(report) == []
    independence = probe(report, "batch-independence")
    assert independence["status"] == "skipped" and "interact by design" in independence["note"]
    odd = probe(report, "odd-batch")
    assert odd["status"] == "ran" and odd["output_shape"][0] == odd["batch"]


def test_a_graph_model_that_assumes_its_node_count_is_caught():
    assert codes(check(FixedNodes(), (torch.randn(120, 16), graph(120)))) == ["batch-size-assumption"]


def test_a_graph_model_with_one_hot_node_ids_that_assumes_its_node_count_is_caught():
    class FixedIds(GCN):
        def forward(self, x, a):
            return a @ self.l2(F.relu(a @ self.l1(x)).reshape(120, 32))
    assert codes(check(FixedIds(120), (torch.eye(120), graph(120)))) == ["batch-size-assumption"]


def test_two_square_feature_batches_are_still_judged():
    class TwoViews(BatchSoftmax):
        def forward(self, x, z):
            return super().forward(x + z)
    report = check(TwoViews(), (torch.randn(64, 64), torch.randn(64, 64)))
    assert codes(report) == ["batch-mixing"]


@pytest.mark.parametrize("inputs", [
    (torch.randn(64, 64),),  # a square batch alone
    (torch.randn(64, 64), torch.full((64,), 64)),  # beside an input with the samples on one dim
], ids=["square-batch", "square-batch-beside-lengths"])
def test_a_square_feature_batch_is_still_judged(inputs):
    report = check(BatchSoftmax(), inputs)
    assert codes(report) == ["batch-mixing"]
    assert probe(report, "odd-batch")["status"] == "ran"
