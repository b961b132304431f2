"""`traindoctor data` end to end, with its defaults: a CSV and a parquet file, every format, exit codes."""

import json
import subprocess
import sys

import jsonschema
import numpy as np
import pandas as pd

from conftest import ROOT
from traindoctor.render.json_report import schema


def cli(*args):
    return subprocess.run([sys.executable, "-m", "traindoctor", "data", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def frame(n, seed):
    r = np.random.default_rng(seed)
    return pd.DataFrame({"episode": np.repeat(np.arange(seed * 1000, seed * 1000 + n // 20), 20),
                         "speed": r.gamma(3.0, 4.0, n), "accel": r.normal(0, 1.5, n), "label": r.integers(0, 3, n)})


def test_healthy_csv_exits_0(tmp_path):
    frame(2000, 1).to_csv(tmp_path / "train.csv", index=False)
    frame(400, 2).to_csv(tmp_path / "val.csv", index=False)
    done = cli(tmp_path / "train.csv", "--eval", tmp_path / "val.csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("traindoctor data") and "no problem found" in done.stdout


def test_broken_parquet_exits_1_with_the_root_cause_first(tmp_path):
    train = frame(2000, 1)
    train.loc[::40, "speed"] = -999.0  # a code for "no reading"
    val = pd.concat([frame(400, 2), train.iloc[:200]])  # the same episodes in both splits
    train.to_parquet(tmp_path / "train.parquet")
    val.to_parquet(tmp_path / "val.parquet")
    done = cli(tmp_path / "train.parquet", "--eval", tmp_path / "val.parquet", "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    jsonschema.validate(data, schema())
    assert data["summary"]["root_cause"] == "split-overlap"
    assert {f["code"] for f in data["findings"]} == {"split-overlap", "sentinel-values"}
    assert data["data"]["roles"]["groups"] == ["episode"] and data["data"]["splits"]["train"]["rows"] == 2000
    for fmt in ("markdown", "html"):
        out = tmp_path / f"report.{fmt}"
        assert cli(tmp_path / "train.parquet", "-e", tmp_path / "val.parquet", "-f", fmt, "-o", out).returncode == 1
        assert "split-overlap" in out.read_text()


def test_usage_errors_exit_2(tmp_path):
    done = cli(tmp_path / "nothing.csv")
    assert done.returncode == 2 and "nothing.csv: no such file" in done.stderr
    frame(100, 1).to_csv(tmp_path / "train.csv", index=False)
    done = cli(tmp_path / "train.csv", "--target", "price")
    assert done.returncode == 2 and "no column named price" in done.stderr
