"""checkup shares run's differential diagnosis: when the model cannot fit the batch, arms on copies tell the
weight decay and the learning rate apart from the setup itself."""
import torch
import torch.nn.functional as F
from torch import nn

from traindoctor.diagnosis.checkup import checkup


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))


def _cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3))


def _batch(shape):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=g)
    return x, torch.randint(0, 3, (shape[0],), generator=g)


def _first(report):
    return next((f.code for f in report.findings if f.severity in ("error", "warning")), None)


def test_weight_decay_that_pins_the_weights_is_named():
    for model, shape, opt in [(_mlp(), (48, 10), lambda m: torch.optim.SGD(m.parameters(), lr=0.1, weight_decay=2.0)),
                              (_cnn(), (32, 1, 8, 8), lambda m: torch.optim.Adam(m.parameters(), lr=1e-2, weight_decay=50.0))]:
        r = checkup(model, _batch(shape), F.cross_entropy, opt(model), progress=False)
        assert _first(r) == "over-regularization", [(f.code, f.severity) for f in r.findings]
        assert r.sections["checkup"]["experiments"]["ran"]


def test_a_model_that_fits_runs_no_experiment_unless_asked():
    model = _mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    r = checkup(model, _batch((48, 10)), F.cross_entropy, opt, progress=False)
    assert r.sections["checkup"]["experiments"] == {"ran": False, "why": "the model fits the batch"}
    asked = checkup(model, _batch((48, 10)), F.cross_entropy, opt, progress=False, experiments_=True)
    assert asked.sections["checkup"]["experiments"]["ran"]
    assert [f.code for f in asked.findings if f.severity != "info"] == []


def test_no_experiments_when_told_not_to():
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, weight_decay=20.0)
    r = checkup(model, _batch((48, 10)), F.cross_entropy, opt, progress=False, experiments_=False)
    assert r.sections["checkup"]["experiments"] == {"ran": False, "why": "--no-experiments"}
    assert "over-regularization" not in [f.code for f in r.findings]
