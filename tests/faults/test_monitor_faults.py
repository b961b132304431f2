"""The Monitor and `traindoctor report` under faults, in the configuration users run: Monitor(model,
opt, log_dir=...) with the default sync_every=50 and sample_every=10. NaN/Inf injected into the
input, the forward pass, the loss and the backward pass, at a sampled (20) and an unsampled (23)
step, once or from then on; every sink; a monitor failing inside; kill -9; corrupt and empty logs;
a reused log_dir."""
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from typer.testing import CliRunner

from conftest import ROOT, validate
from traindoctor import Monitor
from traindoctor.cli import app
from traindoctor.monitor import load_run
from traindoctor.monitor.sinks import read_jsonl

TIMEOUT = 120
EXPECTED = {"input": "nonfinite-input", "forward": "nonfinite-forward", "loss": "nonfinite-forward",
            "backward": "nonfinite-backward"}


def cli(*args, env=None):
    """`traindoctor ...` as users run it: a subprocess."""
    return subprocess.run([sys.executable, "-m", "traindoctor", *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=ROOT, env=env)


def cli_inline(*args):
    """The same command in this process (the bulk of the matrix; the subprocess path is covered below)."""
    result = CliRunner().invoke(app, list(map(str, args)))
    return result.exit_code, result.stdout


class Poison(nn.Module):
    """Identity, or adds `value` (NaN/Inf) to finite inputs: a module that produces non-finite values."""
    value = None

    def forward(self, x):
        return x if self.value is None else x + self.value


class JsonSink:
    """A user's own sink that serialises strictly, as most do."""
    def __init__(self):
        self.lines = []

    def write(self, records):
        self.lines += [json.dumps(r, allow_nan=False) for r in records]

    def close(self):
        pass


def faulty_run(log_dir, fault=None, at=20, persistent=True, value=math.nan, sinks=("jsonl",), steps=55, **options):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    poison = Poison()
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), poison, nn.Linear(32, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with Monitor(model, opt, log_dir=log_dir, sinks=sinks, **options) as mon:
        for i in range(steps):
            x, y = torch.randn(32, 10, generator=g), torch.randint(0, 4, (32,), generator=g)
            on = i == at or (persistent and i > at)
            if fault == "input" and on:
                x[3, 5] = value
            poison.value = value if fault == "forward" and on else None
            opt.zero_grad()
            out = model(x)
            if fault == "backward" and on:
                out.register_hook(lambda grad: grad * value)
            loss = F.cross_entropy(out, y)
            if fault == "loss" and on:
                loss = loss * value
            loss.backward()
            mon.log(loss=loss)
            opt.step()
    return mon


def first(report_json):
    return report_json["findings"][0]["code"], report_json["findings"][0]["location"]["step"]


@pytest.mark.parametrize("value", [math.nan, math.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("persistent", [False, True], ids=["transient", "persistent"])
@pytest.mark.parametrize("at", [20, 23], ids=["sampled", "unsampled"])
@pytest.mark.parametrize("fault", list(EXPECTED))
def test_a_nonfinite_value_reaches_the_report(tmp_path, fault, at, persistent, value):
    pytest.importorskip("tensorboard")
    user = JsonSink()
    faulty_run(tmp_path, fault, at, persistent, value, sinks=("jsonl", "csv", "tensorboard", user))
    saved = json.loads((tmp_path / "report.json").read_text())
    assert first(saved) == (EXPECTED[fault], at)
    assert saved["monitor"]["disabled"] is None and saved["monitor"]["sink_errors"] == []
    assert len(user.lines) == 55 and len(read_jsonl(tmp_path / "monitor.jsonl")) == 55
    code, out = cli_inline("report", tmp_path, "--format", "json")
    assert code == 1 and first(json.loads(out)) == (EXPECTED[fault], at)
    (tmp_path / "report.json").unlink()  # a killed run: the same check on the records read back
    rebuilt = validate(load_run(tmp_path))
    assert (rebuilt.findings[0].code, rebuilt.findings[0].location["step"]) == (EXPECTED[fault], at)


def test_the_module_is_named_when_the_failing_batch_is_still_held(tmp_path):
    """At the sync step itself (49) the batch and the weights that produced the NaN are still there."""
    faulty_run(tmp_path, "forward", at=49)
    f = load_run(tmp_path).findings[0]
    assert (f.code, f.location["step"], f.location["module"]) == ("nonfinite-forward", 49, "2")
    faulty_run(tmp_path / "input", "input", at=49)
    f = load_run(tmp_path / "input").findings[0]
    assert f.code == "nonfinite-input" and f.evidence["nonfinite_inputs"]["arg0"]["columns"] == [5]


class _no_warnings:
    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings(record=True)
        self.caught = self._ctx.__enter__()
        warnings.simplefilter("always", RuntimeWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        ours = [str(w.message) for w in self.caught if "traindoctor" in str(w.message)]
        assert not ours, ours


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())


@pytest.mark.parametrize("sink", ["jsonl", "csv", "tensorboard", "wandb", "mlflow"])
def test_each_sink_takes_nonfinite_records_and_report_finds_them(tmp_path, tracking, sink):
    pytest.importorskip({"jsonl": "json", "csv": "csv"}.get(sink, sink))
    log = tmp_path / "log"
    with _no_warnings():
        faulty_run(log, "input", at=20, sinks=("jsonl", sink) if sink != "jsonl" else ("jsonl",))
    done = cli("report", log, "--format", "json")
    assert done.returncode == 1 and first(json.loads(done.stdout)) == ("nonfinite-input", 20), done.stderr
    if sink == "jsonl":
        line = json.loads((log / "monitor.jsonl").read_text().splitlines()[20])
        assert line["loss"] == "nan" and line["grad_norm_by_module"]["0"] == "nan"
        for source in ("report.json", "monitor.jsonl"):  # read back as floats at every level, from either file
            record = load_run(log).sections["monitor"]["flight_recorder"][20]
            assert math.isnan(record["loss"]) and math.isnan(record["grad_norm_by_module"]["0"]), source
            (log / "report.json").unlink(missing_ok=True)
    elif sink == "csv":
        import csv
        rows = list(csv.DictReader((log / "monitor.csv").open()))
        assert rows[20]["loss"] == "nan" and rows[20]["grad_norm_by_module/0"] == "nan"
    elif sink == "tensorboard":
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        events = EventAccumulator(str(log))
        events.Reload()
        loss = {e.step: e.value for e in events.Scalars("traindoctor/loss")}
        assert len(loss) == 55 and math.isnan(loss[20]) and math.isfinite(loss[19])
    elif sink == "wandb":
        (offline,) = (log / "wandb").glob("offline-run-*/run-*.wandb")
        assert b"traindoctor/grad_norm_by_module/0" in offline.read_bytes()
    else:
        import mlflow
        client = mlflow.tracking.MlflowClient()
        (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "traindoctor/loss")]
        assert 19 in steps and 20 not in steps  # MLflow gets the finite values only


def test_a_failing_sink_is_dropped_and_the_checks_go_on(tmp_path):
    class Broken:
        def write(self, records):
            raise OSError(28, "No space left on device")

        def close(self):
            pass
    with pytest.warns(RuntimeWarning, match="sink failed .*No space left"):
        faulty_run(tmp_path, "input", at=20, sinks=("jsonl", Broken()))
    saved = json.loads((tmp_path / "report.json").read_text())
    assert first(saved) == ("nonfinite-input", 20) and saved["monitor"]["disabled"] is None
    assert saved["monitor"]["sink_errors"] == ["Broken: OSError: [Errno 28] No space left on device"]
    assert len(read_jsonl(tmp_path / "monitor.jsonl")) == 55


def test_a_monitor_that_disabled_itself_could_not_check(tmp_path, monkeypatch):
    from traindoctor.judge.steps import StepRules

    observe = StepRules.observe

    def broken(self, record):
        if record["step"] == 30:
            raise ZeroDivisionError("injected")
        return observe(self, record)
    monkeypatch.setattr(StepRules, "observe", broken)
    with pytest.warns(RuntimeWarning, match="disabled itself"):
        mon = faulty_run(tmp_path, steps=120)
    assert mon.report().exit_code == 2 and "ZeroDivisionError: injected" in mon.report().unchecked[0]
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["could_not_check"]
    for fmt in ("text", "markdown", "html"):
        code, out = cli_inline("report", tmp_path, "--format", fmt)
        assert code == 2 and "COULD NOT CHECK" in out and "no problem found" not in out.lower(), fmt
    done = cli("report", tmp_path, "--format", "json")
    assert done.returncode == 2 and "ZeroDivisionError" in json.loads(done.stdout)["summary"]["could_not_check"][0]
    monkeypatch.undo()
    (tmp_path / "report.json").unlink()  # killed before close(): the log itself says it stopped checking
    rebuilt = load_run(tmp_path)
    assert rebuilt.exit_code == 2 and any("ZeroDivisionError: injected" in n for n in rebuilt.unchecked)
    assert rebuilt.sections["monitor"]["steps"] == 50  # the records of the sync it failed in, none after


def test_no_optimizer_step_could_not_check(tmp_path):
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, opt, log_dir=tmp_path):
        model(torch.randn(4, 3)).sum().backward()  # step() never called
    code, out = cli_inline("report", tmp_path)
    assert code == 2 and "COULD NOT CHECK" in out and "no optimizer step" in out


def test_empty_garbage_and_damaged_logs_do_not_read_as_healthy(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "monitor.jsonl").write_text("")
    code, out = cli_inline("report", empty)
    assert code == 2 and "holds no monitor record" in out
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "monitor.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary\n{not json}\n[1, 2]\n")
    code, out = cli_inline("report", garbage)
    assert code == 2 and "not monitor records" in out and "monitor.jsonl" in out
    # one damaged line in the middle: the records after it are still read, and the report says so
    faulty_run(tmp_path / "damaged", "input", at=30, steps=40)
    log = tmp_path / "damaged" / "monitor.jsonl"
    lines = log.read_text().splitlines()
    lines[10] = lines[10][:25]
    log.write_text("\n".join(lines) + "\n")
    (tmp_path / "damaged" / "report.json").unlink()
    rebuilt = load_run(tmp_path / "damaged")
    assert rebuilt.findings[0].code == "nonfinite-input" and rebuilt.findings[0].location["step"] == 30
    assert rebuilt.exit_code == 1 and rebuilt.unchecked == [] and any("line 11" in n for n in rebuilt.sections["monitor"]["notes"])
    # read around, every record checked: a note, not "could not check"
    faulty_run(tmp_path / "healthy", None, steps=40)
    log = tmp_path / "healthy" / "monitor.jsonl"
    lines = log.read_text().splitlines()
    lines[10] = lines[10][:25]
    log.write_text("\n".join(lines) + "\n")
    (tmp_path / "healthy" / "report.json").unlink()
    code, out = cli_inline("report", tmp_path / "healthy")
    assert code == 0 and "COULD NOT CHECK" not in out and "line 11" in out


def test_a_truncated_report_json_names_the_file(tmp_path):
    faulty_run(tmp_path, "input", at=20)
    report = tmp_path / "report.json"
    report.write_text(report.read_text()[:300])
    done = cli("report", tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{report} is unreadable" in done.stderr and "rebuilt from" in done.stderr
    assert "COULD NOT CHECK" not in done.stdout and "nonfinite-input" in done.stdout and "is unreadable" in done.stdout
    healthy = tmp_path / "healthy"
    faulty_run(healthy, None, steps=30)
    (healthy / "report.json").write_text((healthy / "report.json").read_text()[:300])
    code, out = cli_inline("report", healthy)
    assert code == 0 and "is unreadable" in out and "COULD NOT CHECK" not in out  # every record was checked
    (tmp_path / "monitor.jsonl").unlink()
    done = cli("report", tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{report} is unreadable" in done.stderr and "re-run the training, or delete" in done.stderr


def test_a_reused_log_dir_starts_a_fresh_log(tmp_path):
    faulty_run(tmp_path, "input", at=20, sinks=("jsonl", "csv"))
    with pytest.warns(UserWarning, match="moved .*monitor.jsonl.* to .*previous-1"):
        faulty_run(tmp_path, None, steps=30, sinks=("jsonl", "csv"))
    assert json.loads((tmp_path / "report.json").read_text())["findings"] == []
    assert len(read_jsonl(tmp_path / "monitor.jsonl")) == 30 and len(read_jsonl(tmp_path / "previous-1" / "monitor.jsonl")) == 55
    assert load_run(tmp_path / "previous-1").findings[0].code == "nonfinite-input"  # nothing lost
    # a new run killed before closing leaves no report.json of an earlier run behind
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="previous-2"):
        Monitor(model, opt, log_dir=tmp_path)
    assert not (tmp_path / "report.json").exists() and (tmp_path / "previous-2" / "report.json").exists()


@pytest.mark.parametrize("mode", ["outside", "midwrite"])
def test_kill_9_leaves_a_log_that_report_reads(tmp_path, mode):
    log = tmp_path / "log"
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "scripts" / "monitor_killed.py"), str(log), mode],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        if mode == "outside":  # kill once two syncs (100 records) are on disk, wherever the process is then
            deadline = time.monotonic() + TIMEOUT  # a bound against a hang, not a measurement
            while proc.poll() is None and time.monotonic() < deadline:
                if (log / "monitor.jsonl").is_file() and (log / "monitor.jsonl").read_bytes().count(b"\n") >= 100:
                    break
                time.sleep(0.1)
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert not (log / "report.json").exists()
    done = cli("report", log, "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert first(data) == ("nonfinite-input", 20) and data["monitor"]["steps"] >= 50 and not data["summary"]["could_not_check"]


def test_report_reads_around_a_deeply_nested_line_and_zero_padding(tmp_path):
    """A line nested beyond the JSON parser's depth is one damaged line, not a crash; the zero bytes a
    crash leaves where a write was lost are nothing (as `curves` reads them)."""
    faulty_run(tmp_path, "input", at=30, steps=40)
    (tmp_path / "report.json").unlink()
    lines = (tmp_path / "monitor.jsonl").read_text().splitlines()
    lines[5:5] = ["[" * 100_000, "\x00" * 64]
    (tmp_path / "monitor.jsonl").write_text("\n".join(lines) + "\n")
    done = cli("report", tmp_path, "--format", "json")
    assert "Traceback" not in done.stderr and done.returncode == 1, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert first(data) == ("nonfinite-input", 30) and data["monitor"]["steps"] == 40
    said = " ".join(data["summary"]["could_not_check"] + data["monitor"].get("notes", []))
    assert "1 line(s)" in said and "line 6" in said
