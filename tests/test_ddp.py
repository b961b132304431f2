"""The Monitor under torchrun with DDP: 2 processes, gloo backend, CPU."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPT = ROOT / "tests" / "scripts" / "ddp_train.py"


def torchrun(tmp_path, mode):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(SCRIPT), str(tmp_path), mode], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (tmp_path / "rank1").exists()  # only rank 0 writes
    return json.loads((tmp_path / "rank0" / "report.json").read_text())


@pytest.mark.skipif(sys.platform == "win32", reason="gloo over localhost")
def test_ddp_statistics_match_clipping_and_nan_names_its_rank(tmp_path):
    healthy = torchrun(tmp_path / "ok", "ok")
    assert healthy["findings"] == []
    records = [json.loads(line) for line in (tmp_path / "ok" / "rank0" / "monitor.jsonl").read_text().splitlines()]
    assert len(records) == 20
    for r in records:  # the monitor's global norm is what clip_grad_norm_ computes on the all-reduced grads
        assert r["grad_norm"] == pytest.approx(r["reference_norm"], rel=1e-5)
    broken = torchrun(tmp_path / "nan", "nan")
    first = broken["findings"][0]
    assert first["code"] == "nonfinite-input" and first["location"]["rank"] == 1 and first["location"]["step"] == 12
