"""Step time of plain training loops with and without traindoctor.Monitor, in one process.

For an MLP, a CNN and a small transformer (CPU), each condition runs the same seeded loop:
  plain      no instrumentation
  monitor    traindoctor.Monitor at default settings (every=1, sync_every=50, sample_every=10)
  naive      the common hand-written logger: `p.grad.norm().item()` per parameter, every step
  foreach    one bare `torch._foreach_norm` over the gradients per step (no sync) — the floor
Prints the median step time of each (best of `--repeats`, order rotated) and the ratios; runs on one
intra-op thread, which makes differences of a few percent measurable on a 2-core machine.

    python bench/monitor_overhead.py [--steps 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from traindoctor import Monitor


def mlp():
    return nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)), \
        (torch.randn(128, 256), torch.randint(0, 10, (128,)))


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


def run(build, mode: str, steps: int) -> float:
    torch.manual_seed(0)
    model, (x, y) = build()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    mon = Monitor(model, opt) if mode == "monitor" else None
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
            torch._foreach_norm([p.grad for p in model.parameters() if p.grad is not None])
        opt.step()
        times.append(time.perf_counter() - t)
    if mon:
        mon.close()
    return statistics.median(times[10:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # one intra-op thread: far less scheduling noise on a small shared machine
    modes = ("plain", "monitor", "naive", "foreach")
    print(f"{'model':<13}{'plain ms':>10}{'monitor':>10}{'naive':>10}{'foreach':>10}   monitor/plain  naive/plain  "
          "(monitor-plain)/(foreach-plain)")
    for name, build in (("mlp", mlp), ("cnn", cnn), ("transformer", transformer)):
        best = {m: float("inf") for m in modes}
        run(build, "plain", 30)  # warm-up: allocator, thread pool, lazy imports
        for r in range(args.repeats):
            for m in modes[r % 4:] + modes[:r % 4]:  # rotate the order so no condition always runs first
                best[m] = min(best[m], run(build, m, args.steps))
        p = best["plain"]
        floor = best["foreach"] - p
        extra = (best["monitor"] - p) / floor if floor > 1e-6 else float("nan")  # nan: the floor is below noise
        print(f"{name:<13}{p * 1e3:>10.3f}{best['monitor'] * 1e3:>10.3f}{best['naive'] * 1e3:>10.3f}"
              f"{best['foreach'] * 1e3:>10.3f}   {best['monitor'] / p:>12.3f}x {best['naive'] / p:>11.3f}x   {extra:>8.2f}")


if __name__ == "__main__":
    main()
