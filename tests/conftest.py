import os
import textwrap
from pathlib import Path

import jsonschema
import pytest
import torch

from traindoctor import run_script
from traindoctor.render.json_report import schema, to_json_data

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
_cache: dict = {}

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core: one thread each, and for the scripts the tests start, or the
    # workers' threads would fight over the cores. Findings do not depend on the thread count.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def validate(report):
    """Every report a test produces must satisfy the shipped JSON Schema."""
    jsonschema.validate(to_json_data(report), schema())
    return report


def run_example(name, **options):
    """Run a bundled example under traindoctor once per session (they take seconds each)."""
    key = (name, tuple(sorted(options.items())))
    if key not in _cache:
        _cache[key] = validate(run_script(EXAMPLES / name, **options))
    return _cache[key]


def codes(report, severities=("error", "warning")):
    return [f.code for f in report.findings if f.severity in severities]


@pytest.fixture
def run_code(tmp_path):
    """Write a training script into a temp dir and run it under traindoctor."""
    def run(source, **options):
        path = tmp_path / "train.py"
        path.write_text(textwrap.dedent(source))
        return validate(run_script(path, **options))
    return run
