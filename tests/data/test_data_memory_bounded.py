"""One pass in bounded memory: what a split's profile stores stops growing once the rows outnumber its caps,
the parquet reader holds a bounded number of bytes however many row groups the file has, and the bounded
structures (the row-hash sample, the group keys) do not depend on how the input is chunked.

Memory is shown by counting the elements the accumulators hold (and the bytes pyarrow's pool holds), never
by measuring the process; the caps are lowered so that a few thousand rows exceed them."""

import numpy as np
import pandas as pd
import pytest

from traindoctor.data import audit_data
from traindoctor.data import sources
from traindoctor.measure import profile as profile_module
from traindoctor.measure import streaming as stats
from traindoctor.data.profile import profile
from traindoctor.data.roles import assign
from traindoctor.data.sources import Source

CAPS = {"HASH_CAP": 2_000, "RESERVOIR": 300, "MAX_DISTINCT": 50, "EXTREMES": 16, "STRETCH": 50}
GROUP_CAP = 100


@pytest.fixture
def small_caps(monkeypatch):
    for name, value in CAPS.items():
        monkeypatch.setattr(stats, name, value)
    monkeypatch.setattr(profile_module, "MAX_GROUPS", GROUP_CAP)


def table(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A driving-like table: an episode key (a new one every 20 rows), a time, float features, a vector
    target, a categorical text column and an integer code with few values."""
    r = np.random.default_rng(seed)
    return {"episode": np.arange(rows) // 20, "time": (np.arange(rows) % 20) * 0.1,
            "x": r.normal(size=rows), "y": r.exponential(size=rows), "code": r.integers(0, 5, rows).astype(float),
            "agent": np.array(["car", "truck", "bike"], dtype=object)[r.integers(0, 3, rows)],
            "target": r.normal(size=(rows, 2))}


def chunked(columns: dict[str, np.ndarray], step: int) -> Source:
    rows = len(columns["x"])
    return Source("train", lambda: ({k: v[i:i + step].copy() for k, v in columns.items()}
                                    for i in range(0, rows, step)))


def read(columns: dict[str, np.ndarray], step: int = 500):
    return profile(chunked(columns, step), lambda names: assign(names, {"target": "target", "episode": "episode"}))


def stored(p) -> dict[str, int]:
    """How many values each accumulator of a profile holds."""
    return {"hashes": sum(len(h) for h in p.hashes.parts), "hash arrays": len(p.hashes.parts),
            "sample": sum(v.size for v in p.sample.rows.values()) + len(p.sample.keys),
            "extremes": sum(e.high.size + e.low.size for e in p.extremes.values()),
            "counts": sum(len(c.counts or {}) for cs in p.counts.values() for c in cs),
            "groups": sum(len(g) for g in p.groups.values()),
            "stretches": sum(v.size for v in p.stretches.rows().values())}


def bound(p) -> dict[str, int]:
    """What the caps allow, whatever the number of rows."""
    dims = sum(len(lay.dims) for lay in p.layouts.values() if lay.kind == "number")
    sampled = sum(lay.kind == "text" or len(lay.dims) for lay in p.layouts.values()) + len(p.layouts)  # + #hashes
    return {"hashes": CAPS["HASH_CAP"], "hash arrays": stats.HASH_PARTS + 1,
            "sample": CAPS["RESERVOIR"] * (sampled + 1), "extremes": 2 * CAPS["EXTREMES"] * dims,
            "counts": (CAPS["MAX_DISTINCT"] + 1) * (dims + 1), "groups": GROUP_CAP,
            "stretches": CAPS["RESERVOIR"] * (sampled + 1)}


def test_accumulators_stop_growing_once_the_rows_exceed_their_caps(small_caps):
    held = {}
    for rows in (4_000, 16_000, 64_000):
        p = read(table(rows))
        assert p.rows == rows
        counted, allowed = stored(p), bound(p)
        assert all(counted[k] <= allowed[k] for k in counted), (rows, counted, allowed)
        held[rows] = counted
    # sixteen times the rows, and no accumulator holds more than its cap: the hash sample thins itself
    assert held[64_000]["hashes"] <= CAPS["HASH_CAP"] < 64_000
    assert held[64_000]["sample"] == held[4_000]["sample"] and held[64_000]["extremes"] == held[4_000]["extremes"]
    assert held[64_000]["groups"] == GROUP_CAP
    assert held[64_000]["stretches"] == held[4_000]["stretches"]


def test_a_dataloader_sized_chunk_leaves_one_array_of_hashes_not_thousands(small_caps):
    p = read(table(3_000), step=7)
    assert len(p.hashes.parts) <= stats.HASH_PARTS + 1
    assert sum(len(h) for h in p.hashes.parts) == p.hashes.kept


def test_hash_sample_and_group_keys_do_not_depend_on_the_chunking(small_caps):
    columns = table(9_000)
    fine, coarse = read(columns, step=7), read(columns, step=4_096)
    assert fine.hashes.bar == coarse.hashes.bar < np.iinfo(np.uint64).max
    assert np.array_equal(np.sort(fine.hashes.under(fine.hashes.bar)), np.sort(coarse.hashes.under(coarse.hashes.bar)))
    assert fine.groups == coarse.groups == {"episode": set(range(GROUP_CAP))}  # the first keys, in file order
    stretches = fine.stretches.rows(), coarse.stretches.rows()
    assert stretches[0].keys() == stretches[1].keys() and all(np.array_equal(stretches[0][k], stretches[1][k])
                                                             for k in stretches[0])
    assert [n for n in fine.notes if "distinct values" in n] == [n for n in coarse.notes if "distinct values" in n] != []


def test_groups_under_the_cap_are_kept_whole_without_a_note(small_caps):
    p = read(table(1_000))
    assert p.groups == {"episode": set(range(50))} and not p.notes


def test_duplicates_are_estimated_from_the_hash_sample(small_caps):
    """A fifth of the rows repeat another: the share is read off a sample of 1 in 2^k rows by hash value
    (a row and its copy share a hash, so they are kept or dropped together)."""
    columns = table(8_000, seed=1)
    copies = np.random.default_rng(2).choice(8_000, 2_000, replace=False)
    doubled = {k: np.concatenate([v, v[copies]]) for k, v in columns.items()}
    report = audit_data(doubled, target="target", episode="episode")
    found = [f for f in report.findings if f.code == "duplicate-rows"]
    assert found and found[0].evidence["hash_sample"] < 1
    assert found[0].evidence["share"] == pytest.approx(2_000 / 10_000, abs=0.04)


def _arrow_peak(path) -> int:
    """The most bytes pyarrow's pool holds at once while the file is read chunk by chunk."""
    import pyarrow as pa

    peak = 0
    for _ in sources._file_chunks(path):
        peak = max(peak, pa.total_allocated_bytes())
    return peak


def test_parquet_reader_holds_the_same_bytes_for_four_times_the_row_groups(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    r = np.random.default_rng(0)
    group = pa.table({f"f{j}": r.normal(size=20_000) for j in range(8)})  # 1.3 MB per row group
    peaks = {}
    for groups in (12, 48):
        path = tmp_path / f"{groups}.parquet"
        with pq.ParquetWriter(path, group.schema, compression="none") as writer:
            for _ in range(groups):
                writer.write_table(group)
        peaks[groups] = _arrow_peak(path)
    whole = 48 * group.nbytes
    assert peaks[48] <= 1.25 * peaks[12] and peaks[48] < whole / 4, (peaks, whole)


def test_a_capped_profile_gives_the_same_statistics_as_the_frame(small_caps):
    columns = table(20_000)
    frame = pd.DataFrame({k: v for k, v in columns.items() if v.ndim == 1})
    p = read(columns)
    assert p.moments["x"].mean[0] == pytest.approx(frame["x"].mean(), rel=1e-12)
    assert p.moments["y"].std[0] == pytest.approx(frame["y"].std(), rel=1e-12)
    assert p.extremes["x"].high.max() == frame["x"].max() and p.extremes["x"].low.min() == frame["x"].min()
    assert p.counts["code"][0].counts == frame["code"].value_counts().to_dict()
