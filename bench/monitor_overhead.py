"""Step time of plain training loops with and without traindoctor.Monitor, in one process.

For an MLP, a narrow tabular model, a CNN and a small transformer (CPU), each condition runs the same seeded loop:
  plain      no instrumentation
  monitor    traindoctor.Monitor at default settings (every=1, sync_every=50, sample_every=10)
  naive      the common hand-written logger: `p.grad.norm().item()` per parameter, every step
  foreach    one bare `torch._foreach_norm` over the gradients per step (no sync) — the floor
  wandb      `wandb.watch(model, log="all", log_freq=1)` + `run.log(loss)`, offline (if installed)
The monitor writes its JSONL log (default sink) to a temporary directory, as it would in use.
Each repeat runs every condition once (order rotated) and divides each median step time by the
plain one of the same repeat; the figures are medians over repeats of those paired ratios, and of
the paired extra costs (monitor − plain) / (foreach − plain). One intra-op thread: on a 2-core
machine a second one makes identical runs differ by more than the effects measured.

`--self-time` measures instead the time spent inside the monitor's own hooks (timers around
them) per step, against one bare `_foreach_norm` pass timed the same way, and as a share of the
plain step: direct figures that run-to-run noise does not blur.

    python bench/monitor_overhead.py [--repeats 7] [--self-time]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

from traindoctor import Monitor
from traindoctor.measure.activations import ActivationTap


def mlp():
    return nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)), \
        (torch.randn(128, 256), torch.randint(0, 10, (128,)))


def tabular():
    """Features narrow enough (<= 128) that the monitor profiles them for the data's column rules."""
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 10)), \
        (torch.randn(256, 32), torch.randint(0, 10, (256,)))


def cnn():
    block = lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))  # noqa: E731
    return nn.Sequential(block(3, 32), block(32, 64), nn.Flatten(), nn.Linear(64 * 8 * 8, 10)), \
        (torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,)))


class TinyTransformer(nn.Module):
    def __init__(self, vocab=256, dim=128):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.blocks = nn.TransformerEncoder(nn.TransformerEncoderLayer(dim, 4, 4 * dim, batch_first=True), 2,
                                            enable_nested_tensor=False)
        self.head = nn.Linear(dim, vocab)

    def forward(self, x):
        return self.head(self.blocks(self.emb(x))).flatten(0, 1)


def transformer():
    idx = torch.randint(0, 256, (32, 64))
    return TinyTransformer(), (idx, idx.flatten())


def run(build, mode: str, steps: int, log_dir: str, bare: list[float] | None = None) -> float:
    torch.manual_seed(0)
    model, (x, y) = build()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    mon = Monitor(model, opt, log_dir=log_dir) if mode == "monitor" else None
    run = None
    if mode == "wandb":
        import wandb

        run = wandb.init(mode="offline", dir=log_dir, project="bench")
        wandb.watch(model, log="all", log_freq=1)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if mon:
            mon.log(loss=loss)
        elif mode == "naive":
            [p.grad.norm().item() for p in model.parameters() if p.grad is not None]
        elif mode == "foreach":
            b = time.perf_counter()
            torch._foreach_norm([p.grad for p in model.parameters() if p.grad is not None])
            if bare is not None:
                bare.append(time.perf_counter() - b)
        elif run:
            run.log({"loss": loss.item()})
        opt.step()
        times.append(time.perf_counter() - t)
    if mon:
        mon.close()
    if run:
        run.unwatch(model)
        run.finish()
    return statistics.median(times[10:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--self-time", action="store_true", help="time inside the monitor's hooks instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.self_time:
        return self_time()
    os.environ.setdefault("WANDB_SILENT", "true")
    modes = ("plain", "monitor", "naive", "foreach")
    print(f"{'model':<13}{'steps':>6}{'plain ms':>10}" + "".join(f"{m + '/plain':>15}" for m in modes[1:])
          + f"{'wandb/plain':>15}   monitor extra / foreach extra")
    for name, build, steps in (("mlp", mlp, 300), ("tabular", tabular, 300), ("cnn", cnn, 60),
                               ("transformer", transformer, 60)):
        with tempfile.TemporaryDirectory() as tmp:
            run(build, "plain", 20, tmp)  # warm-up: allocator, lazy imports
            times: dict[str, list[float]] = {m: [] for m in modes}
            for r in range(args.repeats):
                for i, m in enumerate(modes[r % len(modes):] + modes[:r % len(modes)]):  # rotate the order
                    times[m].append(run(build, m, steps, os.path.join(tmp, f"{r}-{i}")))
            # W&B last and in its own pairs: its background service keeps running after a run ends
            # and would slow whatever ran next.
            wandb_ratio = _wandb_pairs(build, steps, tmp, args.repeats)
        plain = times["plain"]
        ratios = [statistics.median(t / p for t, p in zip(times[m], plain)) for m in modes[1:]]
        extra = statistics.median((a - p) / (f - p) if f - p > 1e-7 else float("nan")
                                  for a, f, p in zip(times["monitor"], times["foreach"], plain))
        print(f"{name:<13}{steps:>6}{statistics.median(plain) * 1e3:>10.3f}"
              + "".join(f"{x:>14.3f}x" for x in ratios + [wandb_ratio]) + f"   {extra:>8.2f}")


def self_time() -> None:
    """Time inside the monitor's hooks per step (summed over the hooks of each step) against the time
    of one bare `_foreach_norm` pass timed the same way in the same loop: median step (what the
    target speaks of) and mean step (flushes and sampled steps included)."""
    per_step: collections.Counter = collections.Counter()
    current = [0]  # the step being trained: activation hooks run inside its forward pass

    def timed(method):
        def wrapper(self, *args, **kwargs):
            step, t = getattr(self, "step", current[0]), time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                per_step[step] += time.perf_counter() - t
                current[0] = getattr(self, "step", current[0])
        return wrapper

    hooks = {Monitor: ("_pre", "_post", "_capture", "_capture_output", "_on_clip", "log"),
             ActivationTap: ("_hook", "_model_hook")}
    originals = {(c, h): getattr(c, h) for c, names in hooks.items() for h in names if hasattr(c, h)}
    print(f"{'model':<13}{'steps':>6}{'plain ms':>10}{'bare µs':>9}{'monitor µs':>12}{'ratio':>7}"
          f"{'mean µs':>9}{'mean ratio':>11}{'share':>8}   (median step; mean includes syncs and samples)")
    for name, build, steps in (("mlp", mlp, 1000), ("tabular", tabular, 1000), ("cnn", cnn, 200),
                               ("transformer", transformer, 200)):
        with tempfile.TemporaryDirectory() as tmp:
            run(build, "plain", 20, tmp)
            plain = statistics.median(run(build, "plain", steps, tmp) for _ in range(3))
            bare: list[float] = []
            run(build, "foreach", steps, tmp, bare)
            for (c, h), method in originals.items():
                setattr(c, h, timed(method))
            try:
                per_step.clear()
                run(build, "monitor", steps, tmp)
            finally:
                for (c, h), method in originals.items():
                    setattr(c, h, method)
        spent = [per_step[i] for i in range(10, steps)]
        b_med, b_mean = statistics.median(bare[10:]), statistics.mean(bare[10:])
        m_med, m_mean = statistics.median(spent), statistics.mean(spent)
        print(f"{name:<13}{steps:>6}{plain * 1e3:>10.3f}{b_med * 1e6:>9.1f}{m_med * 1e6:>12.1f}{m_med / b_med:>6.2f}x"
              f"{m_mean * 1e6:>9.1f}{m_mean / b_mean:>10.2f}x{m_mean / plain:>8.2%}")


def _wandb_pairs(build, steps: int, tmp: str, repeats: int) -> float:
    try:
        import wandb
    except ImportError:
        return float("nan")
    ratios = []
    for r in range(max(2, repeats // 2)):
        plain = run(build, "plain", steps, tmp)
        ratios.append(run(build, "wandb", steps, os.path.join(tmp, f"wandb-{r}")) / plain)
    wandb.teardown()
    return statistics.median(ratios)

if __name__ == "__main__":
    main()
