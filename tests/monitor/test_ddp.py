"""The Monitor under torchrun with DDP: 2 processes, gloo backend, CPU, the Monitor's defaults.
A fault on either rank, in the training or in the monitor itself, must neither hang training
(bounded here by the subprocess timeout) nor lose the finding and its rank."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPT = ROOT / "tests" / "scripts" / "ddp_train.py"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gloo over localhost")


def torchrun(tmp_path, mode, *faults):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                               str(SCRIPT), str(tmp_path), mode, *faults], capture_output=True, text=True, timeout=180,
                              env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"training hung with faults {faults}: {(exc.stderr or b'')[-2000:]!r}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (tmp_path / "rank1").exists()  # only rank 0 writes
    return json.loads((tmp_path / "rank0" / "report.json").read_text())


def test_ddp_statistics_match_clipping(tmp_path):
    healthy = torchrun(tmp_path / "ok", "ok")
    assert healthy["findings"] == [] and healthy["summary"]["could_not_check"] == []
    records = [json.loads(line) for line in (tmp_path / "ok" / "rank0" / "monitor.jsonl").read_text().splitlines()]
    assert len(records) == 20
    for r in records:  # the monitor's global norm is what clip_grad_norm_ computes on the all-reduced grads
        assert r["grad_norm"] == pytest.approx(r["reference_norm"], rel=1e-5)


def test_nan_on_rank_1_at_a_sampled_step_and_rank_0_monitor_failing_later(tmp_path):
    report = torchrun(tmp_path, "faults", "input@1:20", "publish@0:2")
    first = report["findings"][0]
    assert (first["code"], first["location"]["rank"], first["location"]["step"]) == ("nonfinite-input", 1, 20)
    assert first["observation"].startswith("rank 1: step 20")
    (note,) = report["summary"]["could_not_check"]
    assert note.startswith("rank 0:") and "injected monitor fault on rank 0" in note


def test_nan_on_rank_0_at_an_unsampled_step_and_rank_1_monitor_failing_first(tmp_path):
    report = torchrun(tmp_path, "faults", "input@0:23", "collect@1:1")
    first = report["findings"][0]
    assert (first["code"], first["location"]["rank"], first["location"]["step"]) == ("nonfinite-input", 0, 23)
    (note,) = report["summary"]["could_not_check"]
    assert note.startswith("rank 1:") and "injected monitor fault on rank 1" in note


def test_the_exchange_waits_as_long_as_the_training_group(tmp_path, monkeypatch):
    """The monitor's own gloo group takes the timeout given to init_process_group (a slow evaluation on
    rank 0 is waited for as the training waits for it); without a gloo group it says it runs on the
    training's group. One process, world size 1: no torchrun."""
    import datetime

    import torch
    import torch.distributed as dist

    from traindoctor.monitor.exchange import Exchange

    dist.init_process_group("gloo", init_method=(tmp_path / "store").as_uri(), rank=0, world_size=1,
                            timeout=datetime.timedelta(seconds=4321))
    try:
        exchange = Exchange(1)
        assert exchange.group._get_backend(torch.device("cpu")).options._timeout.total_seconds() == 4321
        assert exchange.note is None and exchange.share([{"step": 0, "loss": 1.0}], None) == []

        def no_gloo(*args, **kwargs):
            raise RuntimeError("gloo is not available in this build")
        monkeypatch.setattr(dist, "new_group", no_gloo)
        fallback = Exchange(1)
        assert fallback.group is None and "no gloo group" in fallback.note and "not available" in fallback.note
    finally:
        dist.destroy_process_group()
