"""Step time of the healthy examples with and without `traindoctor run`, in one process.

Both conditions run the same script via runpy with the same cheap timer (a global optimizer
step post-hook); the traindoctor condition adds all of run's hooks. Conditions alternate,
so drift in machine load hits both: each repeat runs the script plain, then watched, and
takes the ratio of their median step times. Prints the median step times over all repeats
and the median of the paired ratios with its interquartile range.

Torch runs one intra-op thread by default here (`--threads`): on a 2-core machine the
second thread competes with everything else and makes identical runs differ by ±10%,
more than the effect measured.

    python bench/run_overhead.py [--repeats 9] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import runpy
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from traindoctor.measure.hooks import installed
from traindoctor.measure.recorder import Recorder

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = ["healthy_mlp.py", "healthy_cnn.py", "healthy_causal_lm.py"]


def step_times(script: Path, watched: bool) -> list[float]:
    stamps: list[float] = []
    timer = register_optimizer_step_post_hook(lambda *_: stamps.append(time.perf_counter()))
    saved_argv, saved_path = sys.argv, sys.path[:]
    sys.argv, sys.path[:0] = [str(script)], [str(script.parent)]
    watch = installed(Recorder(max_steps=0)) if watched else contextlib.nullcontext()
    try:
        with watch, contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        timer.remove()
        sys.argv, sys.path[:] = saved_argv, saved_path
    return [b - a for a, b in zip(stamps, stamps[1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads, both conditions")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'example':<24}{'steps':>7}{'plain ms':>11}{'watched ms':>12}{'ratio':>8}   IQR of ratios")
    for name in SCRIPTS:
        plain: list[float] = []
        watched: list[float] = []
        for _ in range(args.repeats):
            times = step_times(EXAMPLES / name, watched=False)
            plain.append(statistics.median(times))
            watched.append(statistics.median(step_times(EXAMPLES / name, watched=True)))
        ratios = [b / a for a, b in zip(plain, watched)]
        q1, med, q3 = statistics.quantiles(ratios, n=4)
        print(f"{name:<24}{len(times):>7}{statistics.median(plain) * 1e3:>11.3f}"
              f"{statistics.median(watched) * 1e3:>12.3f}{med:>7.3f}x   {q1:.3f}-{q3:.3f}")


if __name__ == "__main__":
    main()
