"""traindoctor must not change the training it watches, and must leave no hook behind."""
import json
import multiprocessing.process
import os
import signal
import subprocess
import sys
import threading

import pytest
import torch
import torch.distributions as D
import torch.nn.functional as F
from torch import nn
from torch.optim import optimizer as optim_module

from conftest import EXAMPLES, ROOT
from traindoctor import run_script
from traindoctor.diagnosis.checkup import CHEAP_PROBES, checkup
from traindoctor.diagnosis.tree import Call
from traindoctor.measure.streams import preserved_streams

TRAINDOCTOR = [sys.executable, "-m", "traindoctor"]


def _stdout(cmd):
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


@pytest.mark.parametrize("name", ["healthy_mlp.py", "healthy_cnn.py", "healthy_causal_lm.py"])
def test_same_losses_with_and_without_traindoctor(name, tmp_path):
    plain = _stdout([sys.executable, str(EXAMPLES / name)])
    watched = _stdout([*TRAINDOCTOR, "run", "--max-steps", "0", "--format", "json", "--output", str(tmp_path / "r.json"), str(EXAMPLES / name)])
    assert "loss" in plain
    assert watched == plain
    # The same run's report: a healthy example gets nothing, and every probe that applies ran.
    report = json.loads((tmp_path / "r.json").read_text())
    assert [f["code"] for f in report["findings"] if f["severity"] in ("error", "warning")] == []
    run = report["run"]
    assert run["stopped"] == "completed" and run["steps"] > 100
    statuses = {p["name"]: p["status"] for p in run["probes"]}
    assert statuses["batch-independence"] == "ran" and "failed" not in statuses.values()


def _pristine():
    return {
        "call": nn.Module.__call__, "backward": torch.autograd.backward, "ce": F.cross_entropy,
        "mse": F.mse_loss, "zero_grad": torch.optim.Optimizer.zero_grad, "opt_init": torch.optim.Optimizer.__init__, "module_zero_grad": nn.Module.zero_grad,
        "sched": torch.optim.lr_scheduler.LRScheduler.step, "iter": torch.utils.data.DataLoader.__iter__,
        "os_exit": os._exit, "excepthook": threading.excepthook, "process_start": multiprocessing.process.BaseProcess.start,
        "signals": {s: signal.getsignal(s) for s in signal.valid_signals()},
        "argv": list(sys.argv), "path": list(sys.path), "cwd": os.getcwd(),
        "multinomial": torch.multinomial, "gather": torch.gather,
        "tensor_methods": {n: torch.Tensor.__dict__.get(n) for n in ("multinomial", "gather")},
        "distributions": {(c.__name__, n): c.__dict__.get(n) for c in (D.Distribution, D.Categorical, D.Normal, D.Independent)
                          for n in ("sample", "rsample", "log_prob")},
    }


def _global_step_hooks():
    return len(optim_module._global_optimizer_pre_hooks), len(optim_module._global_optimizer_post_hooks)


@pytest.mark.parametrize("name", ["healthy_mlp.py", "broken_script_crash.py", "broken_lr_too_high.py"])
def test_hooks_removed_after_run(name):
    before, hooks = _pristine(), _global_step_hooks()
    run_script(EXAMPLES / name, max_steps=20)
    assert _pristine() == before
    assert _global_step_hooks() == hooks


def test_hooks_removed_when_stopped_by_budget(tmp_path):
    before = _pristine()
    script = tmp_path / "loop.py"
    script.write_text("import torch\nm = torch.nn.Linear(2, 1); o = torch.optim.SGD(m.parameters(), 0.1)\n"
                      "while True:\n    o.zero_grad(); m(torch.ones(4, 2)).sum().backward(); o.step()\n")
    report = run_script(script, max_steps=0, max_seconds=1.0)
    assert report.sections["run"]["stopped"] == "max-seconds"
    assert _pristine() == before


class ScaledNet(nn.Module):
    """Called with positional and keyword arguments together, as `run` may capture a call."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))

    def forward(self, x, *, scale):
        return self.net(x) * scale


def test_probes_on_a_captured_call_leave_model_and_rng_untouched():
    torch.manual_seed(1)
    model = ScaledNet().train()
    x = torch.randn(16, 4)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    report = checkup(model, (Call(((x,), {"scale": 2.0})), None), probes=CHEAP_PROBES, progress=False)
    assert report.findings == [] and report.unchecked == []
    assert {p["name"]: p["status"] for p in report.sections["checkup"]["probes"]}["batch-independence"] == "ran"
    assert model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


def test_preserved_streams_restores_all_generators():
    import random

    import numpy as np
    torch.manual_seed(3); np.random.seed(3); random.seed(3)
    expected = (torch.rand(1), np.random.rand(), random.random())
    torch.manual_seed(3); np.random.seed(3); random.seed(3)
    with preserved_streams():
        torch.rand(5); np.random.rand(5); random.random()
    assert (torch.rand(1), np.random.rand(), random.random()) == expected


def test_a_failing_handler_stops_the_recording_not_the_script(run_code, monkeypatch, capsys):
    # A bug in a handler used to raise inside the user's training loop (reported as *their* script-error).
    from traindoctor.measure import losses

    def broken(*args, **kwargs):
        raise ValueError("a bug of ours")
    monkeypatch.setattr(losses, "observe_call", broken)
    report = run_code("""
import torch, torch.nn.functional as F
m = torch.nn.Linear(4, 3); o = torch.optim.SGD(m.parameters(), lr=0.1)
for i in range(10):
    o.zero_grad(); F.cross_entropy(m(torch.randn(8, 4)), torch.randint(0, 3, (8,))).backward(); o.step()
print("finished")
""")
    assert "finished" in capsys.readouterr().out
    assert report.sections["run"]["stopped"] == "completed" and not any(f.code == "script-error" for f in report.findings)
    assert report.exit_code == 2 and "a bug of ours" in report.unchecked[0]


def test_device_contexts_still_place_tensors_built_from_data(tmp_path):
    """torch.tensor under `with torch.device("meta")` stays on that device, as Transformers builds a model
    before loading its weights (a fresh process: torch decides which functions the context redirects once)."""
    script = tmp_path / "meta.py"
    script.write_text("import torch\nwith torch.device('meta'):\n    print(torch.tensor([1.0]).device, torch.as_tensor([1.0]).device)\n"
                      "m = torch.nn.Linear(2, 1); o = torch.optim.SGD(m.parameters(), 0.1)\n"
                      "for _ in range(3):\n    o.zero_grad(); m(torch.ones(4, 2)).sum().backward(); o.step()\n")
    assert _stdout([*TRAINDOCTOR, "run", "--output", str(tmp_path / "r.json"), str(script)]).split() == ["meta", "meta"]
