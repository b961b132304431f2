"""A Hugging Face `datasets.Dataset` returned by `module.py:function` is audited like any map-style dataset
(datasets is an optional extra: skipped when it is not installed)."""

import textwrap

import pytest

from traindoctor.data import audit_data

datasets = pytest.importorskip("datasets")

MAKE = '''
import numpy as np
import datasets


def train_set():
    r = np.random.default_rng(0)
    n = 2000
    speed = r.gamma(3.0, 4.0, n)
    speed[::50] = -999.0  # a sentinel for "no reading"
    return datasets.Dataset.from_dict({"speed": speed, "accel": r.normal(0, 1.5, n),
                                       "agent": r.choice(["car", "bus"], n).tolist(), "label": r.integers(0, 3, n)})


def val_set():
    r = np.random.default_rng(1)
    n = 500
    return datasets.Dataset.from_dict({"speed": r.gamma(3.0, 4.0, n), "accel": r.normal(0, 1.5, n),
                                       "agent": r.choice(["car", "bus"], n).tolist(), "label": r.integers(0, 3, n)})
'''


def test_a_hugging_face_dataset_from_a_function_is_audited(tmp_path):
    (tmp_path / "make.py").write_text(textwrap.dedent(MAKE))
    report = audit_data(f"{tmp_path / 'make.py'}:train_set", eval=f"{tmp_path / 'make.py'}:val_set")
    data = report.sections["data"]
    assert data["splits"]["train"]["rows"] == 2000 and data["splits"]["eval"]["rows"] == 500
    assert data["roles"]["target"] == ["label"]
    assert "speed" in data["splits"]["train"]["dims"] and "agent" not in data["splits"]["train"]["dims"]
    assert [f.code for f in report.findings if f.severity != "info"] == ["sentinel-values"]
    assert report.findings[0].evidence


def test_a_hugging_face_dataset_in_memory_with_a_vector_column():
    ds = datasets.Dataset.from_dict({"obs": [[float(i), float(i % 7)] for i in range(300)],
                                     "action": [float(i % 5) for i in range(300)]})
    report = audit_data(ds)
    assert set(report.sections["data"]["splits"]["train"]["dims"]) >= {"obs[0]", "obs[1]", "action"}
