"""`traindoctor surface FILE.py:FUNCTION` end to end, in its default configuration: exit codes, every
format, the figure and the table, and the user's errors as usage errors."""

import json
import subprocess
import sys
import textwrap

import jsonschema

from conftest import ROOT
from traindoctor.render.json_report import schema

BROKEN = '''
import torch

def make_loss():
    def pair_loss(pos, neg):
        return -(pos * neg)            # a product: a saddle and no gradient at zero

    def barrier(v):
        return (v.clamp(0, 1) - 2) ** 2  # flat below 0

    return dict(loss_fn={"pair_loss": pair_loss, "barrier": barrier}, ranges={"pos": (-1, 1), "neg": (-1, 1)})
'''

HEALTHY = '''
import torch.nn.functional as F

def make_loss():
    return lambda logit, box: F.softplus(-logit) + (box - 0.5) ** 2
'''


def write(tmp_path, text, name="loss.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def cli(*args):
    """The real command, in a process of its own."""
    return subprocess.run([sys.executable, "-m", "traindoctor", "surface", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def invoke(*args):
    from typer.testing import CliRunner

    from traindoctor.cli import app

    return CliRunner().invoke(app, ["surface", *map(str, args)])


def test_defaults_on_a_broken_loss(tmp_path):
    path = write(tmp_path, BROKEN)
    done = cli(path)  # the default function is make_loss
    assert done.returncode == 0, done.stderr  # warnings: the regions may lie where the model never goes
    assert "loss-dead-zone" in done.stdout and "loss-saddle" in done.stdout
    report = json.loads(invoke(f"{path}:make_loss", "--format", "json").stdout)
    jsonschema.validate(report, schema())
    pair, barrier = report["surface"]["components"]
    assert pair["axes"] == ["pos", "neg"] and barrier["axes"] == ["v"]
    assert {r["input"] for r in pair["table"]} >= {"zero", "small", "converged", "degenerate"}
    assert pair["grid"]["saddles"] == [[20, 20]]


def test_html_and_figures(tmp_path):
    path = write(tmp_path, BROKEN)
    done = invoke(path, "--format", "html", "--output", tmp_path / "surface.html", "--plots", tmp_path / "plots")
    assert done.exit_code == 0, done.output
    html = (tmp_path / "surface.html").read_text()
    assert html.count("<svg") == 2 and "Loss table: <code>pair_loss</code>" in html and "dead" in html
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["surface-barrier.png", "surface-pair_loss.png"]


def test_a_healthy_loss_is_silent(tmp_path):
    done = invoke(write(tmp_path, HEALTHY), "--axis", "logit", "--axis", "box", "--cells", "21")
    assert done.exit_code == 0 and "no problem found" in done.output.lower(), done.output


def test_the_users_errors_are_usage_errors(tmp_path):
    raising = write(tmp_path, "def make_loss():\n    raise ValueError('no loss here')\n", "raising.py")
    done = cli(f"{raising}:make_loss")
    assert done.returncode == 2 and "no loss here" in done.stderr and "raising.py" in done.stderr
    missing = invoke(f"{write(tmp_path, HEALTHY)}:other")
    assert missing.exit_code == 2 and "defines no function other()" in missing.output
    assert invoke(tmp_path / "absent.py").exit_code == 2
