"""A smoke subset of the data benchmark (bench/data, `make data-accuracy` runs all of it): dev cases of
each domain, scored exactly as the benchmark scores them, and healthy look-alikes."""
import importlib.util
import sys

import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("bench_data_score", ROOT / "bench" / "data" / "score.py")
score = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # its dataclasses look their module up
_spec.loader.exec_module(score)
CASES = {c.name: c for c in score.load("dev")}

SMOKE = ["drive_centimetres", "drive_target_from_past", "robot_bimodal", "robot_switching_policy", "table_sentinel",
         "drive_metres"]


@pytest.mark.parametrize("name", SMOKE)
def test_smoke_case(name):
    result = score.run(CASES[name])
    assert not result.problem, result.problem
    if result.healthy:
        assert result.codes == [], result.codes
    else:
        assert result.first, (result.expect, result.codes)
