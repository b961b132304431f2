"""`traindoctor sweeps` end to end, in its default configuration: a W&B-style CSV export in, every format out,
exit codes as the design says."""

import json
import subprocess
import sys

import jsonschema

from conftest import ROOT
from sweeps_data import log_effect, sweep
from traindoctor.render.json_report import schema


def cli(*args):
    """The real command, in a process of its own."""
    return subprocess.run([sys.executable, "-m", "traindoctor", "sweeps", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def invoke(*args):
    """The same command in this process (faster), for the variations."""
    from typer.testing import CliRunner

    from traindoctor.cli import app

    return CliRunner().invoke(app, ["sweeps", *map(str, args)])


def test_defaults_on_a_lucky_and_unreplicated_export(tmp_path):
    frame = sweep(effect=0.0, seeds=4, boost=(1, 1e-3, 0.3))
    frame.loc[frame.name == "run-3-0.003", "val/acc"] = float("nan")  # seed 3 is then unpaired: 3 seeds left
    frame.to_csv(tmp_path / "export.csv", index=False)
    done = cli(tmp_path / "export.csv")
    assert done.returncode == 0, done.stderr  # warnings only: nothing corrupts training here
    out = done.stdout
    assert "lucky-seed" in out and "unreplicated" in out and "run-3-0.003" in out
    assert out.index("unreplicated") < out.index("lucky-seed")  # too few seeds explains the lucky one
    report = json.loads(invoke(tmp_path / "export.csv", "--format", "json").stdout)
    jsonschema.validate(report, schema())
    assert report["sweeps"]["nonfinite_runs"][0]["run"] == "run-3-0.003"


def test_a_clean_replicated_sweep_exits_0_and_reads_the_effect(tmp_path):
    sweep(effect=log_effect(), seeds=6).to_csv(tmp_path / "runs.csv", index=False)
    done = invoke(tmp_path / "runs.csv", "--format", "markdown")
    assert done.exit_code == 0 and "reliable-effect" in done.stdout and "lucky-seed" not in done.stdout
    html = cli(tmp_path / "runs.csv", "-f", "html", "-o", tmp_path / "sweep.html")
    assert html.returncode == 0 and (tmp_path / "sweep.html").read_text().startswith("<!doctype html>")


def test_usage_errors_exit_2(tmp_path):
    sweep(seeds=4).to_csv(tmp_path / "runs.csv", index=False)
    done = cli(tmp_path / "runs.csv", "--metric", "nope")
    assert done.returncode == 2 and "no column named nope" in done.stderr
    assert invoke(tmp_path / "missing.csv").exit_code == 2
    sweep(seeds=3).drop(columns="seed").to_csv(tmp_path / "noseed.csv", index=False)
    unpaired = invoke(tmp_path / "noseed.csv")
    assert unpaired.exit_code == 2 and "COULD NOT CHECK" in unpaired.stdout
