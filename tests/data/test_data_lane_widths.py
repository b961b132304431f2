"""Lane widths as a witness of the position unit (`--domain driving`): a lane-width column read as metres
must be a road's lane; in feet, centimetres or millimetres it names the unit. Three shapes broken, healthy
look-alikes silent."""

import sys

import numpy as np
import pandas as pd

from conftest import ROOT, validate
from traindoctor.data import audit_data

sys.path.insert(0, str(ROOT / "bench" / "data"))
from synth import driving_log  # noqa: E402


def lanes(df, seed, low=3.0, high=3.8):
    widths = np.random.default_rng(seed).uniform(low, high, df["episode"].nunique())
    return df["episode"].map(dict(zip(sorted(df["episode"].unique()), widths))).to_numpy()


def lane_findings(report):
    return [f for f in validate(report).findings if f.code == "position-units" and f.evidence.get("by") == "lane width"]


def test_lane_widths_in_another_unit_name_it(tmp_path):
    df = driving_log(1, episodes=30)
    df["lane_width"] = lanes(df, 1) * 100  # centimetres
    f = lane_findings(audit_data(df, domain="driving", target="target_x,target_y"))[0]
    assert f.evidence["likely_unit"] == "cm" and f.severity == "warning"
    arrays = {k: df[k].to_numpy() for k in ("episode", "time", "heading", "speed")}
    arrays["position"], arrays["laneWidth"] = df[["x", "y"]].to_numpy(), lanes(df, 2) / 0.3048  # feet
    assert lane_findings(audit_data(arrays, domain="driving"))[0].evidence["likely_unit"] == "ft"
    big = driving_log(3, episodes=120, steps=120)  # more rows than the row sample: judged on its sample
    big["map_lane_width_mm"] = lanes(big, 3) * 1000
    big.to_parquet(tmp_path / "log.parquet")
    f = lane_findings(audit_data(str(tmp_path / "log.parquet"), domain="driving", target="target_x,target_y"))[0]
    assert f.evidence["likely_unit"] == "mm" and f.evidence["column"] == "map_lane_width_mm"


def test_road_lanes_in_metres_and_other_columns_are_silent():
    df = driving_log(4, episodes=30)
    df["lane_width"] = lanes(df, 4, 2.6, 4.6)  # narrow urban lanes to wide ramps
    df["lane_count"] = np.random.default_rng(4).integers(1, 6, len(df)).astype(float)  # not a width
    report = audit_data(df, domain="driving", target="target_x,target_y")
    assert not [f for f in report.findings if f.code == "position-units"]
    df["lane_width"] = np.where(np.arange(len(df)) % 10 == 0, np.nan, df["lane_width"])  # gaps in the map
    assert not lane_findings(audit_data(df, domain="driving", target="target_x,target_y"))
    assert not lane_findings(audit_data(df.assign(lane_width=df["lane_width"] * 100)))  # generic: no domain checks
