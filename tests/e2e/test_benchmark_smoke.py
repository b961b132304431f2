"""A smoke subset of the diagnosis benchmark (bench/diagnosis, `make accuracy` runs all of it): dev cases
across the differential diagnosis's arms and the new checks, scored exactly as the benchmark scores them,
and two healthy programs of the same styles. The full benchmark does not fit the test budget."""
import importlib.util
import sys

import pytest

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("bench_diagnosis_score", ROOT / "bench" / "diagnosis" / "score.py")
score = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)  # its dataclasses look their module up
_spec.loader.exec_module(score)

SMOKE = ["cls_over_regularized", "vis_sorted_labels", "num_sched_per_batch", "cls_flipped_grad_sign",
         "vis_vae_kl_sign", "vis_healthy_cnn_normalized", "seq_gpt_causal_ok"]


@pytest.mark.parametrize("name", SMOKE)
def test_smoke_case(name):
    case, = [c for c in score.load("dev", name) if c.path.stem == name]
    result = score.run(case, timeout=300)
    assert not result.problem, result.problem
    if case.healthy:
        assert result.codes == [], result.codes
    else:
        assert result.first, (case.expect, result.codes)
