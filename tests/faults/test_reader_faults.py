"""Every file reader under damaged and adversarial input, through `traindoctor curves` / `lint` as
users run them: each file gives either a report (saying what was skipped) or one line
`traindoctor: FILE: what is wrong; what to do` with exit 2 — never a traceback, never "no problem
found" from nothing read. The matrix runs in-process (CliRunner); the subprocess path is covered
by the cases at the end."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import ROOT
from traindoctor.cli import app

TIMEOUT = 120
RNG = np.random.default_rng(0)
GARBAGE = RNG.bytes(4000)


def curve(n=400, seed=0, rate=6.0, floor=0.2):
    rng = np.random.default_rng(seed)
    steps = np.arange(n)
    return steps, (floor + 2.0 * np.exp(-rate * steps / n)) * np.exp(0.1 * rng.standard_normal(n))


def healthy(n=400, seed=0):
    return curve(n, seed)


def two_runs():
    """A run, then a second one with another learning rate (slower, to a higher floor), appended to one
    log: sorted by step, the two interleave into what reads as loss-oscillation."""
    return curve(300, 1), curve(300, 2, rate=2.0, floor=0.8)


def jsonl(records):
    return "".join(json.dumps(r) + "\n" for r in records)


def loss_records(n=400, seed=0, **extra):
    return [{"step": int(s), "loss": float(v), **extra} for s, v in zip(*healthy(n, seed))]


def frame_csv(**columns):
    return pd.DataFrame(columns).to_csv(index=False)


def with_lines(text, replace):
    lines = text.splitlines()
    for i, line in replace.items():
        lines[i] = line
    return "\n".join(lines) + "\n"


def mlflow_run(root, metrics):
    (root / "metrics").mkdir(parents=True)
    (root / "meta.yaml").write_text("run_id: abc\n")
    for name, content in metrics.items():
        (root / "metrics" / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def tensorboard(root, n=400, cut=None, garbage=False):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    if garbage:
        root.mkdir()
        (root / "events.out.tfevents.1.host").write_bytes(GARBAGE)
        return root
    writer = SummaryWriter(str(root))
    for s, v in zip(*healthy(n)):
        writer.add_scalar("train/loss", float(v), int(s))
    writer.close()
    if cut:
        (event,) = root.glob("*tfevents*")
        event.write_bytes(event.read_bytes()[:cut])
    return root


def appended_runs(header_again=False):
    """Two runs of one script appending to one CSV: `to_csv(mode="a")` repeats the header when asked to."""
    first, second = (pd.DataFrame({"step": s, "loss": v}) for s, v in two_runs())
    return first.to_csv(index=False) + second.to_csv(index=False, header=header_again)


def nested_nonfinite():
    """Monitor records sanitised as text at every level ("nan", "inf"), the NaN reached at step 300."""
    records = loss_records()
    for r in records:
        r["grad_norm_by_module"] = {"fc": {"weight": 1.0, "bias": "inf" if r["step"] >= 300 else 0.5}}
        r["lr"] = [0.1]
    records[300]["loss"] = "nan"
    return jsonl(records)


def series_one_after_another():
    steps, loss = healthy()
    val_steps = steps[::40]
    return jsonl([{"step": int(s), "loss": float(v)} for s, v in zip(steps, loss)]
                 + [{"step": int(s), "val_loss": float(loss[s] * 1.1)} for s in val_steps])


def train_and_val_rows_at_one_step():
    rows = []
    for s, v in zip(*healthy()):
        rows.append({"step": s, "train_loss": v})
        if s % 40 == 39:
            rows.append({"step": s, "val_loss": v * 1.1})
    return pd.DataFrame(rows).to_csv(index=False)


def steps_within_epochs():
    steps, loss = healthy()
    return frame_csv(epoch=steps // 100, step=steps % 100, loss=loss)


def resumed_run():
    steps, loss = healthy()
    records = [{"step": int(s), "loss": float(v)} for s, v in zip(steps[:300], loss[:300])]
    return jsonl(records + [{"step": int(s), "loss": float(loss[s])} for s in steps[250:]])


# (case, files {name: text | bytes | builder(path)}, path to read, expected)
# expected: ("report", exit code, substrings of the text output)  or  ("refuse", substring of the message)
CASES = [
    ("jsonl corrupt lines in the middle", {"log.jsonl": with_lines(jsonl(loss_records()), {100: '{"step": 100, "lo', 250: "\x00garbage"})},
     "log.jsonl", ("report", 0, ["note: skipped 2 of 400 lines: corrupt (lines 101, 251)"])),
    ("jsonl truncated last line (killed writer)", {"log.jsonl": jsonl(loss_records()) + '{"step": 400, "lo'},
     "log.jsonl", ("report", 0, ["no problem found"])),
    ("jsonl crash zeros after the last line", {"log.jsonl": jsonl(loss_records()).encode() + b"\x00" * 4096},
     "log.jsonl", ("report", 0, ["no problem found"])),
    ("jsonl lines that are JSON but not objects", {"log.jsonl": with_lines(jsonl(loss_records()), {5: "[1, 2]", 6: '"text"', 7: "3"})},
     "log.jsonl", ("report", 0, ["skipped 3 of 400 lines: not a JSON object (lines 6, 7, 8)"])),
    ("jsonl a line nested 100,000 deep", {"log.jsonl": with_lines(jsonl(loss_records()), {50: "[" * 100_000 + "]" * 100_000})},
     "log.jsonl", ("report", 0, ["lines: corrupt (line 51)"])),
    ("jsonl a huge single line", {"log.jsonl": '{"step": 0, "loss": ' + "1" * 5_000_000},
     "log.jsonl", ("refuse", "no numeric series")),
    ("jsonl a record holding a long list", {"log.jsonl": jsonl(loss_records(hist=list(range(10_000))))},
     "log.jsonl", ("report", 0, ["no problem found"])),
    ("jsonl binary garbage", {"log.jsonl": GARBAGE}, "log.jsonl", ("refuse", "no line is JSON")),
    ("jsonl empty", {"log.jsonl": ""}, "log.jsonl", ("refuse", "no numeric series")),
    ("jsonl step as text", {"log.jsonl": with_lines(jsonl(loss_records()), {9: '{"step": "ten", "loss": 1.0}'})},
     "log.jsonl", ("report", 0, ["skipped 1 of 400 lines: no numeric `step` (line 10)"])),
    ("jsonl NaN/Inf as text at every nesting level", {"log.jsonl": nested_nonfinite()},
     "log.jsonl", ("report", 1, ["loss-divergence", "step 300"])),
    ("jsonl two runs appended", {"log.jsonl": jsonl([{"step": int(s), "loss": float(v)} for run in two_runs() for s, v in zip(*run)])},
     "log.jsonl", ("report", 0, ["starts again at line 301 in `loss`: 2 runs appended", "no problem found"])),
    ("jsonl a run resumed from a checkpoint", {"log.jsonl": resumed_run()},
     "log.jsonl", ("report", 0, ["goes back at line 301 in `loss`: read as a resumed run"])),
    ("jsonl series logged one after another (not a restart)", {"log.jsonl": series_one_after_another()},
     "log.jsonl", ("report", 0, ["no problem found"])),
    ("jsonl too short to judge", {"log.jsonl": jsonl(loss_records(8))},
     "log.jsonl", ("report", 2, ["COULD NOT CHECK", "at most 8 points"])),
    ("csv only a header", {"log.csv": "step,loss\n"}, "log.csv", ("refuse", "no numeric series")),
    ("csv empty", {"log.csv": ""}, "log.csv", ("refuse", "empty")),
    ("csv binary garbage", {"log.csv": GARBAGE}, "log.csv", ("refuse", "log.csv")),
    ("csv a loss column of text", {"log.csv": frame_csv(step=range(50), loss=["abc"] * 50)},
     "log.csv", ("refuse", "`loss` holds text, not numbers (e.g. 'abc')")),
    ("csv a few loss cells of text", {"log.csv": with_lines(frame_csv(step=healthy()[0], loss=healthy()[1]), {5: "4,oops", 9: "8,#REF!"})},
     "log.csv", ("report", 0, ["`loss`: skipped 2 values that are not numbers (e.g. 'oops')", "no problem found"])),
    ("csv NaN and Inf written as text", {"log.csv": with_lines(frame_csv(step=healthy()[0], loss=healthy()[1]), {301: "300,nan", 302: "301,Infinity"})},
     "log.csv", ("report", 1, ["loss-divergence", "step 300"])),
    ("csv rows with the wrong number of fields", {"log.csv": with_lines(frame_csv(step=healthy()[0], loss=healthy()[1]), {20: "19,0.5,extra,fields"})},
     "log.csv", ("report", 0, ["skipped 1 of 400 lines: the wrong number of fields (line 21)"])),
    ("csv not UTF-8", {"log.csv": frame_csv(step=healthy()[0], loss=healthy()[1], run=["r\xe9"] * 400).encode("latin-1")},
     "log.csv", ("report", 0, ["no problem found"])),
    ("csv two runs appended", {"log.csv": appended_runs()},
     "log.csv", ("report", 0, ["starts again at data row 301 in `loss`", "no problem found"])),
    ("csv two runs appended with the header repeated", {"log.csv": appended_runs(header_again=True)},
     "log.csv", ("report", 0, ["skipped 1 of 601 data rows: no numeric `step` (data row 301)", "2 runs appended"])),
    ("csv train and val rows at one step (not a restart)", {"log.csv": train_and_val_rows_at_one_step()},
     "log.csv", ("report", 0, ["no problem found"])),
    ("csv step counted within each epoch", {"log.csv": steps_within_epochs()},
     "log.csv", ("report", 0, ["restarts whenever `epoch` increases (3 times)", "no problem found"])),
    ("csv W&B export of two runs", {"log.csv": frame_csv(Step=healthy()[0], **{"a - loss": healthy()[1], "b - loss": healthy(seed=1)[1]})},
     "log.csv", ("report", 0, ["no problem found"])),
    ("csv a series named like mathtext", {"log.csv": frame_csv(step=healthy()[0], **{"loss $\\foo$": healthy()[1]})},
     "log.csv", ("report", 0, ["no problem found"])),
    ("wandb json truncated", {"h.json": '[{"_step": 1, "loss": 0.5},'}, "h.json", ("refuse", "not valid JSON")),
    ("wandb json history is text", {"h.json": '{"history": "oops"}'}, "h.json", ("refuse", "expected a list of records")),
    ("wandb json a mapping of scalars", {"h.json": '{"loss": 1, "step": 2}'}, "h.json", ("refuse", "mapping of column names to lists")),
    ("wandb json records that are not objects", {"h.json": "[1, 2, 3]"}, "h.json", ("refuse", "not a JSON object")),
    ("wandb json not UTF-8", {"h.json": b'[{"loss": "\xff\xfe"}]'}, "h.json", ("refuse", "h.json")),
    ("wandb json nested 100,000 deep", {"h.json": "[" * 100_000 + "]" * 100_000}, "h.json", ("refuse", "not a JSON text")),
    ("tensorboard event file truncated (killed writer)", {"tb": lambda p: tensorboard(p, cut=9000)},
     "tb", ("report", 0, [])),
    ("tensorboard event file of random bytes", {"tb": lambda p: tensorboard(p, garbage=True)},
     "tb", ("refuse", "no scalar summaries")),
    ("mlflow metric file with bad lines", {"run": lambda p: mlflow_run(p, {"loss": "".join(
        f"{1700000000 + s} {v} {s}\n" if s != 7 else "garbage\n" for s, v in zip(*healthy()))})},
     "run", ("report", 0, ["`loss`: skipped 1 of 400 lines: not `timestamp value step` (line 8)"])),
    ("mlflow metric file not UTF-8", {"run": lambda p: mlflow_run(p, {"loss": b"\xff\xfe\x00garbage\n" * 20})},
     "run", ("refuse", "not MLflow metric files (loss)")),
    ("mlflow metrics logged without a step", {"run": lambda p: mlflow_run(p, {"loss": "".join(
        f"{1700000000 + s} {v} 0\n" for s, v in zip(*healthy()))})},
     "run", ("report", 0, ["logged without step="])),
    ("a directory with nothing recognisable", {"dir": lambda p: (p.mkdir(), (p / "notes.txt").write_text("hi"))},
     "dir", ("refuse", "no monitor.jsonl, MLflow run")),
    ("an empty monitor log_dir", {"dir": lambda p: (p.mkdir(), (p / "monitor.jsonl").write_text(""))},
     "dir", ("refuse", "no numeric series")),
    ("an unknown file type", {"log.txt": "step loss\n1 2\n"}, "log.txt", ("refuse", "unknown format")),
]


def write(tmp_path, files):
    for name, content in files.items():
        path = tmp_path / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


@pytest.mark.parametrize("case, files, target, expected", CASES, ids=[c[0] for c in CASES])
def test_curves_reader_faults(tmp_path, case, files, target, expected):
    write(tmp_path, files)
    path = tmp_path / target
    result = CliRunner().invoke(app, ["curves", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    if expected[0] == "refuse":
        assert result.exit_code == 2, output
        [message] = result.stderr.strip().splitlines()
        assert message.startswith(f"traindoctor: {path}") and expected[1] in message, message
        assert result.stdout == ""
    else:
        _, code, says = expected
        assert result.exit_code == code, output
        for text in says:
            assert text in result.stdout, (text, result.stdout)
        if code == 0:
            assert "loss-oscillation" not in result.stdout and "loss-divergence" not in result.stdout


def test_a_step_beyond_float_range_is_a_skipped_line(tmp_path):
    (tmp_path / "log.jsonl").write_text(with_lines(jsonl(loss_records()), {30: '{"step": 1' + "0" * 400 + ', "loss": 1.0}'}))
    result = CliRunner().invoke(app, ["curves", str(tmp_path / "log.jsonl")])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0 and "skipped 1 of 400 lines: no numeric `step` (line 31)" in result.stdout


@pytest.mark.parametrize("fmt", ["json", "markdown", "html"])
def test_notes_reach_every_format(tmp_path, fmt):
    (tmp_path / "log.jsonl").write_text(with_lines(jsonl(loss_records()), {100: '{"step": 100, "lo'}))
    result = CliRunner().invoke(app, ["curves", str(tmp_path / "log.jsonl"), "-f", fmt])
    assert result.exit_code == 0
    if fmt == "json":
        assert json.loads(result.stdout)["curves"]["notes"] == ["skipped 1 of 400 lines: corrupt (line 101)"]
    else:
        assert "skipped 1 of 400 lines: corrupt (line 101)" in result.stdout


# ── lint ──────────────────────────────────────────────────────────────────────

GOOD = "import torch.nn.functional as F\np = F.softmax(z, 1)\nloss = F.cross_entropy(p, y)\n"
NOTEBOOK = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5}
LINT_CASES = [
    ("notebook whose cells are text", "nb.ipynb", json.dumps({**NOTEBOOK, "cells": "oops"}), "no list of `cells`"),
    ("notebook with a cell that is not an object", "nb.ipynb", json.dumps({**NOTEBOOK, "cells": [3]}), "cell 1 is not an object"),
    ("notebook whose cell source is a number", "nb.ipynb", json.dumps({**NOTEBOOK, "cells": [{"cell_type": "code", "source": 5}]}),
     "the source of cell 1 is not text"),
    ("notebook that is a JSON list", "nb.ipynb", "[1, 2]", "no list of `cells`"),
    ("notebook truncated", "nb.ipynb", '{"cells": [', "not a readable Jupyter notebook"),
    ("notebook not UTF-8", "nb.ipynb", b'{"cells": ["\xff"]}', "not a readable Jupyter notebook"),
    ("notebook with a syntax error in cell 2", "nb.ipynb", json.dumps({**NOTEBOOK, "cells": [
        {"cell_type": "code", "source": "x = 1\n"}, {"cell_type": "code", "source": ["y = 2\n", "def f(:\n"]}]}),
     "nb.ipynb:cell 2:2:"),
    ("python syntax error", "bad.py", "def f(:\n", "bad.py:1:"),
    ("python not UTF-8", "bad.py", b"x = '\xe9'\n", "save it as UTF-8"),
    ("python with a wrong coding cookie", "bad.py", b"# -*- coding: klingon -*-\nx = 1\n", "cannot decode"),
    ("python with NUL bytes", "bad.py", b"x = 1\x00\n", "bad.py"),
    ("python binary garbage", "bad.py", GARBAGE, "bad.py"),
    ("python nested 10,000 deep", "bad.py", "x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n", "bad.py"),
]


@pytest.mark.parametrize("case, name, content, message", LINT_CASES, ids=[c[0] for c in LINT_CASES])
def test_lint_names_the_unreadable_file_and_lints_the_others(tmp_path, case, name, content, message):
    (tmp_path / "good.py").write_text(GOOD)
    bad = tmp_path / name
    bad.write_bytes(content) if isinstance(content, bytes) else bad.write_text(content)
    result = CliRunner().invoke(app, ["lint", str(tmp_path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    # exit 1: the error in good.py decides, as in every command; the unread file is said on stderr and in the report
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    [problem] = result.stderr.strip().splitlines()
    assert problem.startswith(f"traindoctor: {bad}") and message in problem, problem
    assert f"{tmp_path / 'good.py'}:3:" in result.stdout and "double-softmax" in result.stdout  # the other file still linted
    assert f"COULD NOT CHECK: {bad}" in result.stdout  # the report says so too, not only stderr


def test_lint_report_of_an_unreadable_file_is_not_a_clean_scan(tmp_path):
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": "oops"}))
    out = tmp_path / "scan.sarif"
    result = CliRunner().invoke(app, ["lint", str(tmp_path), "-f", "sarif", "-o", str(out)])
    assert result.exit_code == 2
    invocation = json.loads(out.read_text())["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and "nb.ipynb" in invocation["toolExecutionNotifications"][0]["message"]["text"]


# ── the real entry point ──────────────────────────────────────────────────────

def cli(*args):
    return subprocess.run([sys.executable, "-m", "traindoctor", *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=ROOT)


def test_subprocess_curves_reads_past_a_corrupt_line_and_splits_appended_runs(tmp_path):
    (tmp_path / "log.jsonl").write_text(with_lines(jsonl(loss_records()), {100: '{"step": 100, "lo'}))
    (tmp_path / "runs.csv").write_text(appended_runs())
    done = cli("curves", tmp_path / "log.jsonl")
    assert done.returncode == 0 and "note: skipped 1 of 400 lines: corrupt (line 101)" in done.stdout, done.stdout + done.stderr
    done = cli("curves", tmp_path / "runs.csv")
    assert done.returncode == 0 and "2 runs appended" in done.stdout and "oscillat" not in done.stdout, done.stdout


def test_subprocess_bad_inputs_exit_2_with_one_line(tmp_path):
    (tmp_path / "h.json").write_text('{"loss": 1, "step": 2}')
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": "oops"}))
    done = cli("curves", tmp_path / "h.json")
    assert done.returncode == 2 and done.stderr.startswith(f"traindoctor: {tmp_path / 'h.json'}: ") and "Traceback" not in done.stderr
    done = cli("lint", tmp_path / "nb.ipynb")
    assert done.returncode == 2 and done.stderr.startswith(f"traindoctor: {tmp_path / 'nb.ipynb'}: ") and "Traceback" not in done.stderr


def test_html_and_png_figures_of_a_series_named_like_mathtext(tmp_path):
    (tmp_path / "log.csv").write_text(frame_csv(step=healthy()[0], **{"loss $\\foo$": healthy()[1], "val_loss $$": healthy()[1]}))
    result = CliRunner().invoke(app, ["curves", str(tmp_path / "log.csv"), "-f", "html", "--plots", str(tmp_path / "png")])
    assert result.exit_code == 0 and result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "<svg" in result.stdout and (tmp_path / "png" / "loss.png").exists()


REWORDED = {  # how a pandas release could say "Skipping line 21: expected 2 fields, saw 3"
    "a different line label": lambda m: m.replace("Skipping line ", "Skipping line #"),
    "another sentence": lambda m: m.replace("Skipping line ", "Line ").replace(": expected", " skipped: expected"),
    "no line number": lambda m: "\n".join("Skipped a row with too many fields" for _ in m.strip().splitlines()),
}


@pytest.mark.parametrize("wording", REWORDED, ids=list(REWORDED))
def test_csv_bad_lines_counted_whatever_pandas_says(tmp_path, monkeypatch, wording):
    """The rows pandas skips are counted from its warnings; a wording change must neither crash `curves`
    nor lose the note."""
    import warnings

    read_csv = pd.read_csv

    def reworded(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = read_csv(*args, **kwargs)
        for w in caught:
            warnings.warn(REWORDED[wording](str(w.message)), w.category)
        return frame

    monkeypatch.setattr(pd, "read_csv", reworded)
    text = frame_csv(step=healthy()[0], loss=healthy()[1])
    (tmp_path / "log.csv").write_text(with_lines(text, {21: "20,0.5,extra", 41: "40,0.5,extra,more"}))
    result = CliRunner().invoke(app, ["curves", str(tmp_path / "log.csv")])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "skipped 2 of 400 lines: the wrong number of fields" in result.stdout, result.stdout
    if wording != "no line number":
        assert "(lines 22, 42)" in result.stdout
