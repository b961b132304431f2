"""The probe registry and the battery that runs the probes (what checkup and `run` build on)."""
import re

import pytest
import torch
from torch import nn

from conftest import ROOT
from traindoctor.diagnosis import registry
from traindoctor.diagnosis.battery import examine
from traindoctor.diagnosis.checkup import CHEAP_PROBES, PROBES
from traindoctor.diagnosis.registry import Options, probe
from traindoctor.diagnosis.setup import NotApplicable, SetupError
from traindoctor.judge.thresholds import DEAD_RELU_INIT, DEAD_RELU_TRAINED


def batch(n=32):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 8, generator=g), torch.randint(0, 4, (n,), generator=g)


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))


def test_the_battery_is_what_the_probe_modules_declare():
    probes = registry.registered()
    assert tuple(p.name for p in probes) == PROBES and len(set(PROBES)) == len(PROBES)
    assert CHEAP_PROBES == tuple(p.name for p in probes if p.cheap)
    assert set(CHEAP_PROBES) == {"batch-independence", "causal-independence", "target-copy", "odd-batch", "eval-determinism",
                                 "activations", "padding-mask", "symmetry", "affine", "bottleneck", "view-permutation"}
    assert [p.name for p in probes if p.batch_only] == ["batch"]
    assert all(p.about and "\n" not in p.about for p in probes)
    # a probe that reads what another left runs after it
    assert PROBES.index("overfit") < PROBES.index("ablation")


def test_every_probe_has_a_row_in_the_docs():
    doc = (ROOT / "docs" / "checkup.md").read_text()
    table = doc.split("\n## Probes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z-]+)` \|", table, re.M)
    assert rows == list(PROBES)


def test_a_name_registered_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        probe("overfit", order=1, about="another overfit")(lambda setup, context: ([], {}))


def test_statuses_and_records(monkeypatch):
    def broken(setup, context):
        raise RuntimeError("boom")

    def absent(setup, context):
        raise NotApplicable("does not apply here")

    for name, fn in (("test-broken", broken), ("test-absent", absent)):
        monkeypatch.setitem(registry._REGISTRY, name, registry.Probe(name, fn, 1000, "a test probe"))
    outcome = examine(mlp(), batch(), nn.CrossEntropyLoss(), probes=("test-broken", "test-absent", "constant-output"))
    records = {r["name"]: r for r in outcome.records}
    assert [r["name"] for r in outcome.records] == ["test-broken", "test-absent", "constant-output"]
    assert records["test-broken"]["status"] == "failed" and records["test-broken"]["note"] == "probe failed: RuntimeError: boom"
    assert records["test-absent"] == {"name": "test-absent", "status": "skipped", "seconds": records["test-absent"]["seconds"],
                                      "note": "does not apply here"}
    ran = records["constant-output"]
    assert ran["status"] == "ran" and {"max_spread_across_samples", "output_scale"} <= set(ran)
    assert outcome.findings == [] and outcome.setup.batch_size == 32


def test_unknown_probes_are_a_setup_error():
    with pytest.raises(SetupError, match="unknown probe"):
        examine(mlp(), batch(), probes=("no-such-probe",))


class HalfDead(nn.Module):
    """A ReLU layer with 12 of 16 units (75%) never active: dead at initialization, not after training."""

    def __init__(self):
        super().__init__()
        self.fc, self.relu, self.head = nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)
        with torch.no_grad():
            self.fc.weight[:12].zero_()
            self.fc.bias[:12].fill_(-1.0)

    def forward(self, x):
        return self.head(self.relu(self.fc(x)))


def test_the_dead_relu_threshold_is_the_callers():
    assert DEAD_RELU_INIT < 0.75 < DEAD_RELU_TRAINED
    x = batch()[0]
    at_init = examine(HalfDead(), (x, None), probes=("activations",))
    trained = examine(HalfDead(), (x, None), probes=("activations",), options=Options(dead_relu=DEAD_RELU_TRAINED))
    assert [f.code for f in at_init.findings] == ["dead-relu"] and trained.findings == []
    assert at_init.records[0]["layers"]["relu"]["dead_fraction"] == 0.75
