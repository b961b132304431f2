"""Reading datasets: every input form gives the same statistics, in chunks, deterministically, without
touching the user's random streams; unreadable inputs are errors that name the input and what to do."""

import json
import random

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import validate
from traindoctor.data import DataError, audit_data
from traindoctor.data import sources
from traindoctor.measure.streaming import Moments

N = 3000


@pytest.fixture
def frame():
    r = np.random.default_rng(0)
    return pd.DataFrame({"a": r.normal(2.0, 3.0, N), "b": r.integers(0, 100, N).astype(float),
                         "label": r.integers(0, 4, N)})


def stats(report, split="train"):
    return report.sections["data"]["splits"][split]["dims"]


def same_stats(x, y):
    for dim in x:
        for key in ("count", "mean", "std", "min", "max"):
            assert x[dim][key] == pytest.approx(y[dim][key], rel=1e-9), (dim, key)


def test_table_formats_give_the_same_statistics(tmp_path, frame):
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "t.parquet", row_group_size=500)
    (tmp_path / "shards").mkdir()
    for i in range(3):
        frame.iloc[i * 1000:(i + 1) * 1000].to_parquet(tmp_path / "shards" / f"part{i}.parquet")
    expected = stats(validate(audit_data(frame)))
    assert expected["a"]["mean"] == pytest.approx(frame.a.mean()) and expected["a"]["std"] == pytest.approx(frame.a.std())
    for name in ("t.csv", "t.tsv", "t.jsonl", "t.parquet", "shards"):
        report = validate(audit_data(tmp_path / name))
        assert report.sections["data"]["splits"]["train"]["rows"] == N, name
        same_stats(stats(report), expected)


def test_array_formats(tmp_path):
    r = np.random.default_rng(1)
    x, y = r.normal(size=(N, 3)).astype(np.float32), r.integers(0, 5, N)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.save(tmp_path / "x.npy", x)
    torch.save({"x": torch.tensor(x), "y": torch.tensor(y)}, tmp_path / "d.pt")
    expected = stats(validate(audit_data({"x": x, "y": y})))
    for name in ("d.npz", "d.pt"):
        same_stats(stats(validate(audit_data(tmp_path / name))), expected)
    assert set(stats(validate(audit_data(tmp_path / "x.npy")))) == {"x[0]", "x[1]", "x[2]"}


def test_streaming_moments_match_numpy_over_chunks():
    r = np.random.default_rng(2)
    values = r.normal(1e4, 1.0, (10_000, 2))
    values[::7, 1] = np.nan
    m = Moments(2)
    for chunk in np.array_split(values, 13):
        m.add(chunk)
    assert m.mean == pytest.approx(np.nanmean(values, 0)) and m.std == pytest.approx(np.nanstd(values, 0, ddof=1))
    assert list(m.missing) == [0, np.isnan(values[:, 1]).sum()]


def test_small_chunks_give_the_same_report(monkeypatch, frame):
    whole = validate(audit_data(frame, frame.iloc[:100] + 0.5))
    monkeypatch.setattr(sources, "CHUNK_ROWS", 256)
    chunked = validate(audit_data(frame, frame.iloc[:100] + 0.5))
    assert [(f.code, f.observation) for f in whole.findings] == [(f.code, f.observation) for f in chunked.findings]
    assert whole.findings  # the comparison is not vacuous
    same_stats(stats(chunked), stats(whole))


class Noisy(torch.utils.data.Dataset):
    """A map-style dataset with a random augmentation, as users write them."""

    def __len__(self):
        return 500

    def __getitem__(self, i):
        return torch.full((3,), float(i)) + torch.randn(3) * 0.01, i % 5


def test_dataset_and_dataloader_are_read_deterministically_without_moving_the_users_streams():
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    loader = torch.utils.data.DataLoader(Noisy(), batch_size=32, shuffle=True)
    first = validate(audit_data(loader))
    again = validate(audit_data(Noisy()))
    assert torch.equal(torch.get_rng_state(), before[0]) and (np.random.get_state()[1] == before[1]).all()
    assert random.getstate() == before[2]
    assert json.dumps(stats(first), sort_keys=True) == json.dumps(stats(again), sort_keys=True)
    assert stats(first)["x[0]"]["count"] == 500 and stats(first)["y"]["distinct"] == 5


def test_sample_cap_spreads_over_the_dataset():
    report = validate(audit_data(Noisy(), sample_cap=50))
    assert stats(report)["x[0]"]["count"] == 50 and stats(report)["x[0]"]["max"] > 480  # the last samples too
    assert any("50 of 500" in n for n in report.sections["data"]["notes"])


def test_iterable_dataset_stops_at_the_cap():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            i = 0
            while True:
                yield {"x": torch.tensor([float(i)]), "y": i % 3}
                i += 1

    report = validate(audit_data(torch.utils.data.DataLoader(Stream(), batch_size=16), sample_cap=200))
    assert report.sections["data"]["splits"]["train"]["rows"] == 200


def test_module_function(tmp_path):
    (tmp_path / "make.py").write_text("import numpy as np\n"
                                      "def train():\n    return {'x': np.arange(300.0), 'y': np.arange(300) % 2}\n"
                                      "def broken():\n    return 1 / 0\n")
    report = validate(audit_data(f"{tmp_path}/make.py:train"))
    assert report.sections["data"]["splits"]["train"]["rows"] == 300
    with pytest.raises(DataError, match=r"broken\(\) raised:(.|\n)*make.py(.|\n)*ZeroDivisionError"):
        audit_data(f"{tmp_path}/make.py:broken")
    with pytest.raises(DataError, match="defines no function nothing"):
        audit_data(f"{tmp_path}/make.py:nothing")


@pytest.mark.parametrize("name, content, message", [
    ("missing.csv", None, "no such file"),
    ("data.xlsx", b"x", "unknown format"),
    ("bad.parquet", b"not parquet", "cannot be read as parquet"),
    ("pickled.pt", "pickle", "weights_only=True"),
])
def test_unreadable_inputs_name_the_file_and_the_fix(tmp_path, name, content, message):
    path = tmp_path / name
    if content == "pickle":
        torch.save({"model": torch.nn.Linear(2, 2)}, path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        audit_data(path)
    assert name in str(info.value)


def test_rows_that_do_not_line_up_and_unknown_columns_are_usage_errors(tmp_path, frame):
    with pytest.raises(DataError, match="another number of rows"):
        audit_data({"x": np.zeros((10, 2)), "y": np.zeros(9)})
    with pytest.raises(DataError, match="no column named nope; the columns are a, b, label"):
        audit_data(frame, target="nope")
    with pytest.raises(TypeError, match="unknown role"):
        audit_data(frame, colour="a")


def test_an_empty_split_could_not_be_checked(tmp_path):
    (tmp_path / "empty.csv").write_text("a,b\n")
    report = validate(audit_data(tmp_path / "empty.csv"))
    assert report.exit_code == 2 and report.unchecked == ["train: no rows read"]


def test_same_input_same_report(tmp_path, frame):
    frame.to_parquet(tmp_path / "t.parquet")
    (frame.iloc[:500] * 1.5).to_csv(tmp_path / "v.csv", index=False)

    def document():
        data = validate(audit_data(tmp_path / "t.parquet", tmp_path / "v.csv")).to_dict()
        data["data"].pop("seconds")
        return json.dumps(data, sort_keys=True, default=str)

    assert document() == document()


def test_an_unknown_domain_is_refused(frame):
    validate(audit_data(frame, domain="driving"))  # a table without driving columns: the generic checks still run
    with pytest.raises(DataError, match="unknown domain"):
        audit_data(frame, domain="medical")


def test_a_column_missing_from_some_files_is_named_once(tmp_path, frame):
    (tmp_path / "shards").mkdir()
    frame.iloc[:1000].drop(columns="b").to_csv(tmp_path / "shards" / "a.csv", index=False)
    for i in range(1, 3):
        frame.iloc[i * 1000:(i + 1) * 1000].to_csv(tmp_path / "shards" / f"b{i}.csv", index=False)
    notes = validate(audit_data(tmp_path / "shards")).sections["data"]["notes"]
    assert notes.count("train: column `b` is missing from the first rows; left out") == 1


def test_numpy_string_columns_are_text():
    """Labels drawn with numpy (a '<U1' array, not Python objects) are a text column, not numbers."""
    rng = np.random.default_rng(0)
    report = audit_data({"x": rng.normal(size=500), "city": rng.choice(["a", "b", "c"], size=500),
                                     "y": rng.integers(0, 2, 500)}, target="y")
    assert report.findings == []
    assert "city" in report.sections["data"]["splits"]["train"]["text"]
