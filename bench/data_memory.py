"""Measure `traindoctor data` on a parquet file larger than the audit should ever hold in memory: peak
resident memory and rows per second.

The file is generated in /tmp (never in the repository), row group by row group, by a child process;
another child audits it and reports its own peak RSS (`ru_maxrss`) and wall time. A driving-like table:
an episode id, a time, 12 float features (one with a -999 sentinel), a 3-dimensional float target and a
text column. Same seed, same file.

    OMP_NUM_THREADS=1 .venv/bin/python bench/data_memory.py [--gb 3] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS_PER_GROUP = 1_000_000
FEATURES = 12


def generate(path: Path, gb: float) -> dict:
    """Write row groups until the file reaches `gb` gigabytes; uncompressed floats keep the size honest."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    kinds = np.array(["car", "truck", "cyclist", "pedestrian"], dtype=object)
    writer, rows, start = None, 0, time.perf_counter()
    # each row group is flushed when written: the size on disk tracks what was written
    while not path.exists() or path.stat().st_size < gb * 1e9:
        n = ROWS_PER_GROUP
        cols = {"episode_id": (rows + np.arange(n)) // 200, "time": ((rows + np.arange(n)) % 200) * 0.1}
        for j in range(FEATURES):
            cols[f"f{j}"] = rng.standard_normal(n) * 10.0 ** (j % 4 - 1)
        cols["f0"][rng.random(n) < 0.01] = -999.0
        for j in range(3):
            cols[f"target_{j}"] = rng.standard_normal(n)
        cols["agent"] = kinds[rng.integers(0, len(kinds), n)]
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="none")
        writer.write_table(table, row_group_size=ROWS_PER_GROUP)
        rows += n
    writer.close()
    return {"rows": rows, "bytes": path.stat().st_size, "seconds": time.perf_counter() - start}


def audit(path: Path) -> dict:
    import resource

    import traindoctor

    start = time.perf_counter()
    report = traindoctor.audit_data(str(path), target="target_0,target_1,target_2", episode="episode_id")
    seconds = time.perf_counter() - start
    rows = report.sections["data"]["splits"]["train"]["rows"]
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "findings": [f.code for f in report.findings]}


def _child(role: str, path: Path, gb: float) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", role, "--path", str(path), "--gb", str(gb)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=3.0, help="size of the generated file")
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    ap.add_argument("--child", choices=("generate", "audit"), help=argparse.SUPPRESS)
    ap.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(generate(args.path, args.gb) if args.child == "generate" else audit(args.path)))
        return
    free = shutil.disk_usage(tempfile.gettempdir()).free / 1e9
    if free < args.gb * 1.5:
        sys.exit(f"only {free:.1f} GB free in {tempfile.gettempdir()}; pass a smaller --gb")
    folder = Path(tempfile.mkdtemp(prefix="traindoctor-data-memory-"))
    path = folder / "big.parquet"
    try:
        made = _child("generate", path, args.gb)
        print(f"generated {made['rows']:,} rows, {made['bytes'] / 1e9:.2f} GB of parquet in {made['seconds']:.0f} s "
              f"({path})")
        result = _child("audit", path, args.gb)
        print(f"audited {result['rows']:,} rows in {result['seconds']:.0f} s: {result['rows_per_second']:,.0f} rows/s, "
              f"peak RSS {result['peak_rss_mb']:,.0f} MB; findings: {', '.join(result['findings']) or 'none'}")
        print(json.dumps({"generated": made, "audit": result, "cpus": os.cpu_count()}))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
