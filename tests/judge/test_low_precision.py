"""low-precision-params: an optimizer whose state and updates are kept in a precision that cannot
represent them (torch.optim on float16/bfloat16 parameters, no float32 copy). Broken shapes and healthy
look-alikes, recorded in-process under run's hooks."""
import pytest
import torch
from torch import nn
import torch.nn.functional as F

from traindoctor.judge import numerics
from traindoctor.measure.hooks import installed
from traindoctor.measure.recorder import Recorder


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


X = torch.randn(128, 16, generator=gen())
Y = (X[:, 0] > 0).long() + 2 * (X[:, 1] > 0).long()
R = X[:, :1] * 2 + 1


def recorded(train, steps=40):
    rec = Recorder(max_steps=0)
    with installed(rec):
        train(steps)
    return rec


def precision(rec):
    return [f for f in numerics.check(rec) if f.code == "low-precision-params"]


def mlp(out=4):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, out))


def fit(model, opt, x, loss, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss(model(x)).backward()
        opt.step()


# ── broken ────────────────────────────────────────────────────────────────────────────────────────
def half_adam(steps):
    """The whole classifier cast with .half(), Adam on the float16 weights."""
    model = mlp().half()
    fit(model, torch.optim.Adam(model.parameters(), lr=1e-3), X.half(), lambda out: F.cross_entropy(out.float(), Y),
        steps)


def bf16_sgd_regression(steps):
    """A regression in bfloat16 with plain SGD: small updates round away."""
    model = mlp(1).to(torch.bfloat16)
    fit(model, torch.optim.SGD(model.parameters(), lr=1e-4), X.bfloat16(),
        lambda out: F.mse_loss(out.float(), R), steps)


def bare_bf16_tensor(steps):
    """No module: a bfloat16 leaf tensor trained with AdamW."""
    w = torch.zeros(16, 4, dtype=torch.bfloat16, requires_grad=True)
    opt = torch.optim.AdamW([w], lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy((X.bfloat16() @ w).float(), Y).backward()
        opt.step()


def half_head_group(steps):
    """A float32 body and a float16 head in their own param group (RMSprop)."""
    torch.manual_seed(0)
    body, head = nn.Linear(16, 32), nn.Linear(32, 4).half()
    opt = torch.optim.RMSprop([{"params": body.parameters()}, {"params": head.parameters(), "lr": 1e-4}], lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(head(F.relu(body(X)).half()).float(), Y).backward()
        opt.step()


def bf16_cnn_momentum(steps):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 4)).to(torch.bfloat16)
    images = torch.randn(32, 1, 8, 8, generator=gen(1)).bfloat16()
    fit(model, torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9), images,
        lambda out: F.cross_entropy(out.float(), Y[:32]), steps)


BROKEN = {"half-adam": half_adam, "bf16-sgd-regression": bf16_sgd_regression, "bare-bf16-tensor": bare_bf16_tensor,
          "half-head-group": half_head_group, "bf16-cnn-momentum": bf16_cnn_momentum}


@pytest.mark.parametrize("case", BROKEN)
def test_low_precision_parameters_in_a_torch_optimizer(case):
    found = precision(recorded(BROKEN[case]))
    assert len(found) == 1, [f.observation for f in numerics.check(recorded(BROKEN[case]))]
    ev = found[0].evidence
    assert set(ev["dtypes"]) <= {"float16", "bfloat16"} and 0 < ev["n_low_precision"] <= ev["n_trained"]


def test_only_the_low_precision_group_is_named():
    ev = precision(recorded(half_head_group))[0].evidence
    assert ev["n_low_precision"] == 2 and ev["n_trained"] == 4 and ev["dtypes"] == ["float16"]


def test_adam_in_float16_names_its_vanished_eps_and_ranks_before_the_nonfinite_symptom():
    rec = recorded(half_adam, steps=60)
    found = precision(rec)[0]
    assert found.evidence["eps"] == 1e-8 and "eps 1.00e-08 rounds to 0 in float16" in found.observation
    from traindoctor.vocabulary.triage import triage
    ordered = triage(numerics.check(rec))
    assert ordered[0].code == "low-precision-params"
    assert all(f.explained_by == "low-precision-params" for f in ordered[1:] if f.code.startswith("nonfinite"))


# ── healthy look-alikes ───────────────────────────────────────────────────────────────────────────
def autocast_bf16(steps):
    """float32 weights, bfloat16 compute under torch.autocast."""
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(X)
        opt.zero_grad()
        F.cross_entropy(out.float(), Y).backward()
        opt.step()


def frozen_half_backbone(steps):
    """A float16 backbone no optimizer sees; a float32 head trained on its features."""
    backbone = mlp(32).half().requires_grad_(False)
    head = nn.Linear(32, 4)
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(head(backbone(X.half()).float()), Y).backward()
        opt.step()


def frozen_half_params_in_the_optimizer(steps):
    """float16 parameters given to the optimizer but frozen (requires_grad=False): never updated."""
    backbone, head = mlp(32).half().requires_grad_(False), nn.Linear(32, 4)
    opt = torch.optim.Adam([*backbone.parameters(), *head.parameters()], lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(head(backbone(X.half()).float()), Y).backward()
        opt.step()


def float32_master_weights(steps):
    """The classic mixed-precision loop: float16 model, float32 master copy the optimizer updates."""
    model = mlp().half()
    master = [p.detach().float().requires_grad_() for p in model.parameters()]
    opt = torch.optim.Adam(master, lr=1e-3)
    for _ in range(steps):
        model.zero_grad()
        (F.cross_entropy(model(X.half()).float(), Y) * 128).backward()
        for m, p in zip(master, model.parameters()):
            m.grad = p.grad.float() / 128
        opt.step()
        with torch.no_grad():
            for m, p in zip(master, model.parameters()):
                p.copy_(m)


def own_optimizer_with_float32_state(steps):
    """An optimizer written outside torch.optim may keep float32 state and round with care: not judged."""

    class Fp32StateSGD(torch.optim.Optimizer):
        def __init__(self, params, lr):
            super().__init__(params, {"lr": lr})

        @torch.no_grad()
        def step(self, closure=None):
            for g in self.param_groups:
                for p in g["params"]:
                    if p.grad is not None:
                        master = self.state[p].setdefault("master", p.float())
                        master -= g["lr"] * p.grad.float()
                        p.copy_(master)

    model = mlp().to(torch.bfloat16)
    fit(model, Fp32StateSGD(model.parameters(), lr=1e-2), X.bfloat16(), lambda out: F.cross_entropy(out.float(), Y),
        steps)


HEALTHY = {"autocast-bf16": autocast_bf16, "frozen-half-backbone": frozen_half_backbone,
           "frozen-half-params-in-the-optimizer": frozen_half_params_in_the_optimizer,
           "float32-master-weights": float32_master_weights,
           "own-optimizer-with-float32-state": own_optimizer_with_float32_state}


@pytest.mark.parametrize("case", HEALTHY)
def test_float32_updates_are_quiet(case):
    assert precision(recorded(HEALTHY[case])) == []


# ── severity follows consequence ──────────────────────────────────────────────────────────────────
def test_an_error_when_the_run_went_nonfinite_or_the_loss_did_not_fall_else_a_warning():
    rec = recorded(bf16_cnn_momentum)
    rec.nonfinite = None
    rec.n_steps = 60  # longer than one experiment: a flat loss then counts as not learning
    rec.records = [{"step": i, "loss": 2.0 / (1 + i / 10)} for i in range(60)]
    assert precision(rec)[0].severity == "warning"
    rec.records = [{"step": i, "loss": 1.386} for i in range(60)]
    assert precision(rec)[0].severity == "error"
    rec.records = [{"step": i, "loss": 2.0 if i < 5 else float("nan")} for i in range(60)]
    assert precision(rec)[0].severity == "error"
    rec.records = [{"step": i, "loss": 2.0} for i in range(5)]  # too few losses to tell: the default
    assert precision(rec)[0].severity == "warning"
