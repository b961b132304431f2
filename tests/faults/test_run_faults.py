"""`traindoctor run` on scripts that do what real scripts do — threads, forks, spawned workers,
signal handlers, chdir, sys.exit and os._exit, bad output paths, long waits with no torch call —
run as users run it: the installed `traindoctor` command with its defaults. Each must give exactly
one report, the script's own output unchanged, and the right exit status. Every run is bounded."""
import contextlib
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

TRAINDOCTOR = Path(sys.executable).with_name("traindoctor")
TIMEOUT = 180

TRAIN = """
import torch
torch.manual_seed(0)
m = torch.nn.Linear(3, 1); o = torch.optim.SGD(m.parameters(), lr=0.1); x = torch.randn(16, 3)
for i in range(5):
    o.zero_grad(); loss = m(x).pow(2).mean(); loss.backward(); o.step()
    print(f"loss {loss.item():.6f}", flush=True)
"""


def write(folder: Path, *parts: str) -> Path:
    """train.py in `folder`, from source parts each indented as is convenient."""
    path = folder / "train.py"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(textwrap.dedent(part) for part in parts))
    return path


def td(*args, cwd):
    return subprocess.run([str(TRAINDOCTOR), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)


def python(script, cwd):
    return subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)


def printed(source: str) -> str:
    """What `python` prints for a deterministic snippet, computed here (cheaper than a new interpreter)."""
    out = io.StringIO()
    with torch.random.fork_rng(), contextlib.redirect_stdout(out):
        exec(compile(textwrap.dedent(source), "<expected>", "exec"), {"__name__": "expected"})
    return out.getvalue()


def headers(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("traindoctor run")]


def losses(text: str) -> list[str]:
    return [line for line in text.splitlines() if "loss" in line and not line.startswith(("traindoctor", " "))]


THREADS = """
import threading, torch
from torch import nn
import torch.nn.functional as F

def train(seed, out):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 20, generator=g); y = torch.randint(0, 4, (64,), generator=g)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for i in range(40):
        opt.zero_grad()
        for k in range(8):  # gradient accumulation: eight backward passes per step
            loss = F.cross_entropy(model(x[k::8]), y[k::8]); loss.backward()
        opt.step()
    out[seed] = loss.item()

out = {}
threads = [threading.Thread(target=train, args=(s, out)) for s in range(3)]
[t.start() for t in threads]; [t.join() for t in threads]
for seed in sorted(out):
    print(f"thread {seed} loss {out[seed]:.6f}")
"""


def test_three_training_threads(tmp_path):
    # Reading one thread's .grad while another thread's backward writes it crashed the process
    # (segfault or heap corruption in 2 of 3 runs); each thread now has its own step in progress.
    path = write(tmp_path, THREADS)
    expected = losses(python(path, tmp_path).stdout)
    assert len(expected) == 3
    for _ in range(2):
        done = td("run", path, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert losses(done.stdout) == expected and len(headers(done.stdout)) == 1
        assert "ran to completion after 120 optimizer steps" in done.stdout
    # The step budget spent across threads stops every thread quietly, and the report still comes.
    stopped = td("run", "--max-steps", "50", path, cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "stopped at the step budget" in headers(stopped.stdout)[0]
    assert "StopRun" not in stopped.stderr and "Traceback" not in stopped.stderr


def test_signal_handlers_of_the_script_work(tmp_path):
    path = write(tmp_path, TRAIN, """
    import os, signal
    seen = []
    for sig in (signal.SIGALRM, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, f: seen.append(signal.Signals(s).name))
    signal.alarm(1)
    signal.pause()
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGTERM)
    print("handled", seen)
    """)
    done = td("run", path, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = printed(TRAIN) + "handled ['SIGALRM', 'SIGINT', 'SIGTERM']\n"
    assert done.stdout.split("traindoctor run")[0] == expected and len(headers(done.stdout)) == 1


@pytest.mark.parametrize("status,code", [(0, 0), (3, 1)])
def test_os_exit_still_gives_the_report(tmp_path, status, code):
    path = write(tmp_path, TRAIN, f"import os\nos._exit({status})\n")
    done = td("run", path, cwd=tmp_path)
    assert done.returncode == code, done.stdout + done.stderr
    assert len(losses(done.stdout)) == 5
    assert f"the script called os._exit({status}) after 5 optimizer steps" in headers(done.stdout)[0]
    assert ("script-error" in done.stdout) == bool(status)


def test_max_seconds_stops_a_script_that_makes_no_torch_call(tmp_path):
    # A long wait with no hooked call (data preparation, a sleep) used to run to its end.
    path = write(tmp_path, """
    import time
    print("preparing data", flush=True)
    time.sleep(600)
    """)
    done = td("run", "--max-seconds", "2", "--format", "json", path, cwd=tmp_path)
    report = json.loads(done.stdout)
    assert report["run"]["stopped"] == "max-seconds" and "preparing data" in done.stderr
    assert done.returncode == 2 and report["summary"]["could_not_check"]  # nothing trained: could not check


def test_max_seconds_when_the_script_owns_the_stop_signal(tmp_path):
    # The script installs its own handlers, for traindoctor's stop signal too: they keep working,
    # and the stop falls back to an exception raised in the script's main thread.
    path = write(tmp_path, TRAIN, """
    import signal
    seen = []
    for sig in (signal.SIGUSR2, signal.SIGALRM, signal.SIGINT):
        signal.signal(sig, lambda s, f: seen.append(signal.Signals(s).name))
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    while "SIGALRM" not in seen:
        pass
    print("handled", seen, flush=True)
    n = 0
    while True:  # a pure-Python loop with no torch call
        n += 1
    """)
    # The budget is wall-clock by definition: generous enough that the 5 steps before the loop fit on a
    # loaded machine (the loop itself runs until it expires, so the test always takes this long).
    done = td("run", "--max-seconds", "10", path, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "handled ['SIGALRM']" in done.stdout and len(losses(done.stdout)) == 5
    assert "stopped at the time budget after 5 optimizer steps" in headers(done.stdout)[0]


def test_file_argv_path_and_chdir_as_python(tmp_path):
    # __file__ was relative (os.path.dirname(__file__) == ''); the script may chdir, and a relative
    # --output is where the user was when they typed it.
    write(tmp_path / "project", """
    import os, sys
    print("seen", __file__, sys.argv[0], sys.path[0], os.path.dirname(__file__))
    os.makedirs("elsewhere", exist_ok=True)
    os.chdir("elsewhere")
    """)
    expected = python("project/train.py", tmp_path).stdout
    done = td("run", "-f", "markdown", "-o", "report.md", "project/train.py", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr  # it trains nothing: could not check
    assert done.stdout == expected  # the same __file__, sys.argv[0], sys.path[0]
    assert str(tmp_path / "project" / "train.py") in done.stdout
    assert (tmp_path / "report.md").read_text().startswith("# traindoctor run")


def test_bad_output_paths_are_refused_before_the_script_runs(tmp_path):
    path = write(tmp_path, TRAIN)
    (tmp_path / "a_file").write_text("")
    for args, named in [(("-o", tmp_path / "missing" / "r.md"), "missing"),
                        (("-o", tmp_path), "is a directory"),
                        (("--plots", tmp_path / "a_file"), "a_file")]:
        done = td("run", *args, path, cwd=tmp_path)
        assert done.returncode == 2 and named in done.stderr and str(tmp_path) in done.stderr, done.stderr
        assert "loss" not in done.stdout and "Traceback" not in done.stderr
    # every command checks the same way
    (tmp_path / "log.csv").write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(30)))
    curves = td("curves", tmp_path / "log.csv", "-o", tmp_path / "missing" / "r.md", cwd=tmp_path)
    assert curves.returncode == 2 and str(tmp_path / "missing") in curves.stderr


def test_output_that_fails_after_the_run_goes_to_stdout(tmp_path):
    # The folder passed the check, then the script removed it: the report is not lost.
    (tmp_path / "out").mkdir()
    path = write(tmp_path, TRAIN, "import shutil\nshutil.rmtree('out')\n")
    done = td("run", "-o", "out/report.md", "-f", "markdown", path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "could not write the report to" in done.stderr and "# traindoctor run" in done.stdout


def test_machine_readable_report_on_stdout_keeps_the_script_output_apart(tmp_path):
    path = write(tmp_path, TRAIN, "import os\nos.system('echo from-a-child-process')\n")
    done = td("run", "-f", "markdown", path, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# traindoctor run") and "loss" not in done.stdout
    assert "from-a-child-process" not in done.stdout and "from-a-child-process" in done.stderr
    assert len(losses(done.stderr)) == 5


def test_forked_children_give_no_report(tmp_path):
    # Children of every kind: os.fork ending with sys.exit or os._exit, a multiprocessing fork worker.
    path = write(tmp_path, TRAIN, """
    import multiprocessing as mp, os, sys

    def prepare(q):
        q.put(sum(range(1000)))

    if __name__ == "__main__":
        pid = os.fork()
        if pid == 0:
            print("child returns", flush=True)
            sys.exit(0)
        os.waitpid(pid, 0)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        q = mp.get_context("fork").Queue()
        worker = mp.get_context("fork").Process(target=prepare, args=(q,))
        worker.start(); print("prepared", q.get(), flush=True); worker.join()
        print("parent done")
    """)
    done = td("run", path, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(headers(done.stdout)) == 1  # the children printed none
    expected = printed(TRAIN) + "child returns\nprepared 499500\nparent done\n"
    assert done.stdout.split("traindoctor run")[0] == expected


SPAWN = """
import multiprocessing as mp
import torch

def train(rank):
    torch.manual_seed(rank)
    m = torch.nn.Linear(3, 1); o = torch.optim.SGD(m.parameters(), lr=0.1); x = torch.randn(16, 3)
    for i in range(5):
        o.zero_grad(); loss = m(x).pow(2).mean(); loss.backward(); o.step()
    print(f"worker loss {loss.item():.6f}", flush=True)

if __name__ == "__main__":
    p = mp.get_context("spawn").Process(target=train, args=(0,))
    p.start(); p.join()
"""


def test_training_in_a_spawned_process_could_not_be_checked(tmp_path):
    path = write(tmp_path, SPAWN)
    expected = losses(printed(SPAWN + "train(0)\n"))
    done = td("run", path, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert losses(done.stdout) == expected and len(headers(done.stdout)) == 1
    assert "COULD NOT CHECK" in done.stdout and "1 process" in done.stdout and "Monitor" in done.stdout
    assert "no problem found" not in done.stdout


PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
x, y = torch.randn(64, 10), torch.randint(0, 4, (64,))
model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 4))
"""
UNSEEN = {  # training traindoctor cannot see, and what the report must say it saw
    "evaluation only": ("""
model.eval()
with torch.no_grad():
    for i in range(20):
        acc = (model(x).argmax(1) == y).float().mean()
""", "no training was seen: no optimizer step and no backward pass (20 forward passes without gradients)"),
    "hand-written SGD": ("""
for i in range(20):
    model.zero_grad(); F.cross_entropy(model(x), y).backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
""", "no torch.optim optimizer step was seen, only 20 backward passes"),
    "torch.func": ("""
from torch.func import functional_call, grad
params = {k: v.detach() for k, v in model.named_parameters()}
loss = lambda params: F.cross_entropy(functional_call(model, params, (x,)), y)
for i in range(20):
    g = grad(loss)(params)
    params = {k: p - 0.1 * g[k] for k, p in params.items()}
""", "20 forward passes inside torch.func transforms (grad, vmap), but no backward() and no optimizer step"),
}


@pytest.mark.parametrize("shape", UNSEEN)
def test_training_it_cannot_see_is_could_not_check(run_code, shape):
    from traindoctor.render import render

    source, seen = UNSEEN[shape]
    report = run_code(PRELUDE + source)
    assert report.findings == [] and report.exit_code == 2
    assert len(report.unchecked) == 1 and seen in report.unchecked[0], report.unchecked
    text = render(report, "text", color=False)
    assert "COULD NOT CHECK" in text and "no problem found" not in text


def test_look_alike_that_trains_is_checked(run_code):
    # An optimizer trains; torch.func computes per-sample gradient norms on the side; evaluation under no_grad.
    report = run_code(PRELUDE + """
from torch.func import functional_call, grad, vmap
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for i in range(20):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
params = {k: v.detach() for k, v in model.named_parameters()}
one = lambda p, xi, yi: F.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])
norms = vmap(grad(one), in_dims=(None, 0, 0))(params, x, y)
with torch.no_grad():
    model.eval(); model(x)
""")
    assert report.unchecked == [] and report.findings == [] and report.exit_code == 0


PROBES_CANNOT_COPY = """
import torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 1)
    def forward(self, x):
        if self is not MODEL:  # only the object the script built will run
            raise RuntimeError("not the registered model")
        return self.fc(x)
torch.manual_seed(0)
MODEL = Net(); o = torch.optim.SGD(MODEL.parameters(), lr=0.1); x = torch.randn(16, 3)
for i in range(30):
    o.zero_grad(); loss = MODEL(x).pow(2).mean(); loss.backward(); o.step()
"""


def test_probes_that_fail_after_a_healthy_run_are_could_not_check(tmp_path):
    """The rules judged the training, but the probes on its last batch could not run: the report says
    which part could not be checked and exits 2, never "no problem found"."""
    done = td("run", "--format", "json", write(tmp_path, PROBES_CANNOT_COPY), cwd=tmp_path)
    report = json.loads(done.stdout)
    assert done.returncode == 2, done.stderr
    gaps = report["summary"]["could_not_check"]
    assert gaps and all(g.startswith("the probes on the last training batch") for g in gaps), gaps
    healthy = td("run", "--format", "json", write(tmp_path / "ok", TRAIN), cwd=tmp_path)
    assert healthy.returncode == 0 and json.loads(healthy.stdout)["summary"]["could_not_check"] == []


def test_threads_left_running_keep_the_probes_off(tmp_path):
    """A thread the stop cannot reach (it makes no hooked call) still runs when the report is made: the
    probes would copy and hook a model it may still use, so they do not run, and the report says so."""
    path = write(tmp_path, """
    import threading, time
    threading.Thread(target=lambda: [time.sleep(0.05) for _ in range(600)]).start()
    """, TRAIN)
    done = td("run", "--max-steps", "3", "--format", "json", path, cwd=tmp_path)
    report = json.loads(done.stdout)
    assert done.returncode == 2, done.stderr
    assert report["run"]["threads_running"] == 1 and report["run"]["probes"] == []
    assert any("thread(s) the script started were still running" in g for g in report["summary"]["could_not_check"])
