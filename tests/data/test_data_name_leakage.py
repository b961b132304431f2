"""The label written into an identifier: a file name or key made of a template and a serial number, the
template giving the label away (`feature-leakage` on the text without its numbers)."""

import numpy as np
import pandas as pd

from conftest import validate
from traindoctor.data import audit_data


def leaks(report):
    return [p["feature"] for f in validate(report).findings if f.code == "feature-leakage" for p in f.evidence["pairs"]]


def features(n, seed):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, 3))
    label = (x[:, 0] + r.normal(0, 1, n) > 0).astype(int)
    return x, label


def test_a_label_in_a_file_name_key_or_path(tmp_path):
    x, label = features(3000, 1)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(label=label)
    df["file"] = [f"{'pos' if v else 'neg'}_{i:05d}.png" for i, v in enumerate(label)]
    assert leaks(audit_data(df)) == ["file (its text without the numbers)"]
    kinds = np.array(["crash", "normal"])
    clips = {"x": x, "label": label, "clip": np.array([f"clip-{i}-{kinds[v]}-{7 * i}" for i, v in enumerate(label)],
                                                    dtype=object)}
    assert leaks(audit_data(clips)) == ["clip (its text without the numbers)"]
    df["path"] = [f"s3://bucket/{'cats' if v else 'dogs'}/{i}/img.jpg" for i, v in enumerate(label)]
    df.drop(columns="file").to_parquet(tmp_path / "t.parquet")
    assert leaks(audit_data(str(tmp_path / "t.parquet"))) == ["path (its text without the numbers)"]


def test_serial_names_and_unrelated_templates_are_silent():
    x, label = features(3000, 2)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(label=label)
    df["file"] = [f"img_{i:05d}.png" for i in range(3000)]  # one template for every row
    df["camera"] = [f"cam{np.random.default_rng(i).integers(1, 4)}_{i}.jpg" for i in range(3000)]  # not the label
    assert not leaks(audit_data(df))
    df["user"] = [f"u{i % 1500}" for i in range(3000)]  # half-unique keys: read as categories, as before
    assert not leaks(audit_data(df))
