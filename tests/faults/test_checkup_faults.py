"""`checkup` (and the probes `run` repeats) under faults: the user's setup raising, a batch the model
cannot take, most probes failing, a loaded machine or a skewed clock, a batch of hundreds of MB."""
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import EXAMPLES, ROOT, codes, validate
from traindoctor import checkup
from traindoctor.diagnosis.checkup import CHEAP_PROBES
from traindoctor.render import render

TIMEOUT = 300


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "traindoctor", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=TIMEOUT)


def data(n=64, d=20, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=g).to(dtype), torch.randint(0, 10, (n,), generator=g)


def mlp(*middle):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 32), *middle, nn.ReLU(), nn.Linear(32, 10))


def statuses(report):
    return {p["name"]: p["status"] for p in report.sections["checkup"]["probes"]}


# ── the user's setup function raises ──────────────────────────────────────────

SETUP = '''
import torch

def load_config(path):
    raise FileNotFoundError(f"no config at {path}")

def make_setup():
    cfg = load_config("conf/model.yaml")
    return dict(model=torch.nn.Linear(2, 2), batch=(torch.randn(4, 2), torch.randn(4, 2)))
'''


def test_an_exception_in_the_users_setup_is_a_user_error(tmp_path):
    path = tmp_path / "setup.py"
    path.write_text(SETUP)
    done = cli("checkup", f"{path}:make_setup")
    assert done.returncode == 2, done.stderr
    err = done.stderr
    assert "internal error" not in err and "please report" not in err
    assert f"{path}:make_setup() raised FileNotFoundError: no config at conf/model.yaml" in err
    assert 'cfg = load_config("conf/model.yaml")' in err and "in load_config" in err  # the user's traceback
    assert "traindoctor" not in err.split("Traceback")[1].split(str(path))[0]  # no frames of ours before the user's
    assert "cli.py" not in err and "runpy" not in err
    path.write_text("import torch\nraise ImportError('missing dependency foo')\n")
    done = cli("checkup", f"{path}:make_setup")
    assert done.returncode == 2 and "internal error" not in done.stderr
    assert f"importing {path} failed" in done.stderr and "missing dependency foo" in done.stderr
    assert "line 2" in done.stderr and "runpy" not in done.stderr


# ── a batch the model cannot take is not a batch-size assumption ──────────────

@pytest.mark.parametrize("batch, hint", [
    (data(dtype=torch.float64), "dtype"),  # a float64 batch on a float32 model
    ((torch.randint(0, 5, (64, 20)), data()[1]), "dtype"),  # integer features into a Linear
    ((torch.randn(64, 12), data()[1]), "shape"),  # the wrong number of features
])
def test_a_batch_the_model_cannot_take_is_could_not_check(batch, hint):
    report = validate(checkup(mlp(), batch, nn.CrossEntropyLoss(), progress=False))
    assert "batch-size-assumption" not in codes(report)
    assert report.exit_code == 2 and len(report.unchecked) == 1
    reason = report.unchecked[0]
    assert "on the batch as given" in reason and "RuntimeError" in reason and hint in reason
    assert statuses(report)["batch"] == "ran"  # the batch itself is still described
    assert "COULD NOT CHECK" in render(report, "text", color=False)
    light = validate(checkup(mlp(), (batch[0], None), probes=CHEAP_PROBES, progress=False))  # what `run` repeats
    assert light.unchecked and not light.findings


def test_odd_batch_fires_only_for_an_error_specific_to_the_batch_size():
    class FixedBatch(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(20, 10)

        def forward(self, x):
            return self.fc(x).view(64, 10)

    report = validate(checkup(FixedBatch(), data(), nn.CrossEntropyLoss(), progress=False, probes=("odd-batch",)))
    assert codes(report) == ["batch-size-assumption"] and not report.unchecked
    broken = validate(checkup(FixedBatch(), data(dtype=torch.float64), nn.CrossEntropyLoss(), progress=False,
                              probes=("odd-batch",)))
    assert codes(broken) == [] and broken.unchecked


def test_most_probes_failing_is_could_not_check():
    def loss_fn(out, y):  # a loss that breaks on every call: every probe that needs a loss fails
        raise KeyError("logits")

    report = validate(checkup(mlp(), data(), loss_fn, progress=False))
    assert report.exit_code == 2 and len(report.unchecked) == 1
    reason = report.unchecked[0]
    assert reason.count("KeyError: 'logits'") == 1  # deduplicated
    assert "init-loss" in reason and "overfit" in reason and "probes failed" in reason
    assert "COULD NOT CHECK" in render(report, "markdown")


def test_one_sample_with_batchnorm_is_could_not_check():
    x, y = data(n=1)
    report = validate(checkup(mlp(nn.BatchNorm1d(32)), (x, y), nn.CrossEntropyLoss(), progress=False))
    ran = [n for n, s in statuses(report).items() if s == "ran"]
    assert report.exit_code == 2 and report.unchecked, ran
    assert "Expected more than 1 value per channel" in report.unchecked[0]
    healthy = validate(checkup(mlp(), (x, y), nn.CrossEntropyLoss(), progress=False))
    assert not healthy.unchecked and codes(healthy) == []  # one sample without BatchNorm: the probes that apply ran


# ── findings do not depend on the clock or the machine's load ─────────────────

HEALTHY = ["healthy_mlp.py", "healthy_cnn.py"]

OUTCOMES = textwrap.dedent('''
    import json, sys, time
    from traindoctor import checkup
    from traindoctor.cli import _load_setup
    if sys.argv[1] == "skewed":  # every clock read jumps 1000 s: as if each step took that long
        real = time.monotonic
        ticks = iter(range(10 ** 9))
        time.monotonic = lambda: real() + 1000.0 * next(ticks)
    out = {}
    for name in sys.argv[2:]:
        report = checkup(**_load_setup(name + ":make_setup"), progress=False)
        out[name] = {"findings": [(f.code, f.severity) for f in report.findings], "unchecked": report.unchecked,
                     "probes": [{k: v for k, v in p.items() if k != "seconds"} for p in report.sections["checkup"]["probes"]]}
    print(json.dumps(out, default=str))
''')


def outcomes(condition):
    # One intra-op thread: two torch threads on a 2-core machine next to a hog stall in every parallel region.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", OUTCOMES, condition, *(str(EXAMPLES / n) for n in HEALTHY)],
                          cwd=EXAMPLES, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_healthy_examples_give_the_same_report_under_a_cpu_hog_and_a_skewed_clock():
    normal = outcomes("normal")
    assert all(o["findings"] == [] and not o["unchecked"] for o in normal.values()), normal
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])]  # a core busy beside the other worker
    try:
        time.sleep(0.5)
        loaded = outcomes("skewed")  # and every clock read 1000 s after the last: a time box would cut every probe
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert loaded == normal


# ── memory: a large batch is subsampled, and the record says so ───────────────

MEMORY = textwrap.dedent('''
    import json, resource, torch
    from torch import nn
    from traindoctor import checkup
    from traindoctor.render import render
    torch.manual_seed(0)
    x = torch.randn(300_000, 256)  # 307 MB
    y = torch.randint(0, 10, (300_000,))
    model = nn.Sequential(nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10))
    warm = checkup(model, (x[:64], y[:64]), nn.CrossEntropyLoss(), progress=False)  # libraries loaded, allocator warm
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = checkup(model, (x, y), nn.CrossEntropyLoss(), progress=False)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_mb": (after - before) / 1024, "batch": report.sections["checkup"]["batch_axis"],
                      "notes": [p.get("samples") for p in report.sections["checkup"]["probes"]],
                      "codes": [f.code for f in report.findings], "unchecked": report.unchecked,
                      "text": render(report, "text", color=False)}))
''')


def test_a_large_batch_is_subsampled_and_memory_stays_bounded():
    from traindoctor.diagnosis.setup import BATCH_BYTES
    done = subprocess.run([sys.executable, "-c", MEMORY], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["codes"] == [] and not out["unchecked"]
    assert out["batch"]["subsampled"].endswith("of 300000 samples")
    assert all(n == out["batch"]["subsampled"] for n in out["notes"])
    assert "subsampled 4096 of 300000 samples for the probes' memory budget" in out["text"]
    assert out["growth_mb"] < 4 * BATCH_BYTES / 2 ** 20, out  # bounded by the budget, not by the 307 MB batch


# ── the user's warnings: the probes' forwards on copies do not print them again ──

WARNS = textwrap.dedent('''
    import sys, warnings
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Warns(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(20, 10)

        def forward(self, x):
            warnings.warn("user forward warning")  # the user's own, at this line
            return F.dropout2d(self.fc(x), 0.1, self.training)  # torch's: dropout2d of a 2-D input

    torch.manual_seed(0)
    model, opt = Warns(), None
    x, y = torch.randn(32, 20), torch.randint(0, 10, (32,))
    if sys.argv[1] == "api":
        import traindoctor
        sys.stderr.write("CHECKUP\\n")
        traindoctor.checkup(model, (x, y), nn.CrossEntropyLoss(), progress=False)
        sys.stderr.write("AFTER\\n")
        for _ in range(3):
            model(x)  # the user's later calls: warned once at each location, as without the checkup
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(5):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
''')


def test_probes_do_not_print_the_users_warnings_again(tmp_path):
    script = tmp_path / "warns.py"
    script.write_text(WARNS)
    done = subprocess.run([sys.executable, str(script), "api"], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    during, after = done.stderr.split("CHECKUP\n")[1].split("AFTER\n")
    assert "Warning" not in during, during
    assert after.count("UserWarning: user forward warning") == 1 and after.count("dropout2d: Received a 2-D input") == 1, after
    assert str(script) in after and "traindoctor" not in after  # attributed to the user's code
    ran = cli("run", "--format", "json", "--output", tmp_path / "r.json", script, "train", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    # the script's forward warned once at each location; the probes repeated after it add nothing
    assert ran.stderr.count("UserWarning: user forward warning") == 1 and ran.stderr.count("dropout2d: Received") == 1, ran.stderr
    assert "traindoctor" not in ran.stderr, ran.stderr
    probes = json.loads((tmp_path / "r.json").read_text())
    assert probes["summary"]["errors"] == 0, probes["summary"]
