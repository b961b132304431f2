"""What the script prints: its own measures of success (accuracy, reward, return...), read from stdout.

A training script prints the numbers its author watches — `epoch 3  loss 0.41  val acc 0.87`,
`iter 40  mean episode return -212.5`. They are the one place where the goal is stated: the loss is what
the optimizer descends, the printed accuracy or reward is what it was meant to achieve. `run` passes
everything through unchanged and keeps a bounded copy of the lines, each with the optimizer step it was
printed at, then reads `label number` pairs into series (judged in judge/printed.py).

Only Python-level writes to `sys.stdout` are seen (not a C library writing to the file descriptor, not
stderr where progress bars go).
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

MAX_LINES = 20_000  # lines kept: a bound on memory, far more than the metric lines of a 300-step run
MAX_LINE = 500  # characters kept of a line (a printed tensor is not a metric line)

# A number on its own: not part of a word (`top1`, `3rd`, `fc2`), a version, a path piece or a name's
# suffix (`Acc@5`, `#3`, `200/2983`: the 5 is which accuracy, not its value).
_NUMBER = re.compile(r"(?<![\w.@#/])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])(?:\s*/\s*(\d+)(?![\w.]))?(%?)")
_FIELD = re.compile(r"[|,;()\[\]{}]")  # a label does not reach back past a field separator
LABEL_WORDS = 3  # a label is at most the last three words before its number: `mean episode return`

# What a higher value of means success, by the word right before the number. Ambiguous words (score, map,
# error...) are left out: a rule that reads a lower-is-better number as success would invert its finding.
REWARDS = frozenset({"reward", "rewards", "return", "returns"})
SCORES = frozenset({"acc", "accuracy", "f1", "auc", "auroc", "iou", "miou", "dice", "precision", "recall", "bleu"})


@dataclass
class Printed:
    """The script's stdout lines (bounded), each with the optimizer steps taken when it was printed."""
    lines: list[tuple[int, str]] = field(default_factory=list)
    dropped: int = 0
    _partial: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def write(self, text: str, step: int) -> None:
        with self._lock:
            text = self._partial + text
            *complete, self._partial = text.split("\n")
            self._partial = self._partial[-MAX_LINE:]
            for line in complete:
                if len(self.lines) < MAX_LINES:
                    self.lines.append((step, line[:MAX_LINE]))
                else:
                    self.dropped += 1

    def series(self, min_points: int) -> dict[str, "Metric"]:
        """Each label printed at least `min_points` times, as a series over the lines that print it."""
        found: dict[str, Metric] = {}
        for order, (step, line) in enumerate(self.lines):
            for label, value in _pairs(line):
                found.setdefault(label, Metric(label)).add(order, step, value)
        return {k: m for k, m in found.items() if len(m.values) >= min_points}


@dataclass
class Metric:
    label: str
    lines: list[int] = field(default_factory=list)  # the line's index among the printed lines
    steps: list[int] = field(default_factory=list)  # optimizer steps taken when it was printed
    values: list[float] = field(default_factory=list)

    def add(self, line: int, step: int, value: float) -> None:
        self.lines.append(line)
        self.steps.append(step)
        self.values.append(value)

    @property
    def kind(self) -> str | None:
        """"reward", "score" (higher is success) or None (not known to be a measure of success)."""
        last = self.label.rsplit(" ", 1)[-1]
        return "reward" if last in REWARDS else "score" if last in SCORES else None


def _pairs(line: str) -> Iterator[tuple[str, float]]:
    """(label, value) for each number with words right before it; the first of each label in the line."""
    seen, start = set(), 0
    for m in _NUMBER.finditer(line):
        words = _label_words(_FIELD.split(line[start:m.start()])[-1])
        start = m.end()
        if not words:
            continue
        label = " ".join(words[-LABEL_WORDS:])
        if label in seen:
            continue
        seen.add(label)
        yield label, _value(m)


def _value(m: re.Match) -> float:
    """The number; `a/b` is the fraction a/b (`Accuracy: 9890/10000`: a count of b, not a percentage)."""
    whole = m.group(0).rstrip("%")
    if m.group(1) is None:
        return float(whole)
    numerator, denominator = float(whole.split("/")[0]), float(m.group(1))
    return numerator / denominator if denominator else float("nan")


def _label_words(text: str) -> list[str]:
    """The words right before a number, lower-cased (`val_acc` is two): the trailing run of tokens that start
    with a letter (`f1`, `top5` are words), so a number (`3/10`, `3rd`, `1.2.3`) ends it."""
    words: list[str] = []
    for token in reversed(re.split(r"[^a-z0-9]+", text.lower())):
        if token and not token[0].isalpha():
            break
        if token:
            words.insert(0, token)
    return words


class _Tee:
    """sys.stdout, with a copy of every text write kept in `printed`; everything else is the stream's."""

    def __init__(self, stream: Any, printed: Printed, step: Callable[[], int]):
        self._stream, self._printed, self._step = stream, printed, step

    def write(self, text: str) -> int:
        n = self._stream.write(text)
        if isinstance(text, str):
            with contextlib.suppress(Exception):  # a copy of ours must never break the script's print
                self._printed.write(text, self._step())
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def teed(printed: Printed, step: Callable[[], int]) -> Iterator[None]:
    """sys.stdout copied into `printed` inside the block; put back after unless the script replaced it."""
    tee = _Tee(sys.stdout, printed, step)
    saved, sys.stdout = sys.stdout, tee
    try:
        yield
    finally:
        if sys.stdout is tee:
            sys.stdout = saved
