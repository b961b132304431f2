"""The probe registry: each probe module declares its probes next to their functions with `@probe`,
and `registered()` finds them by importing every module of diagnosis/probes/. Adding a probe is one
function (or module) there, its rule in judge/probes.py, its catalog codes, and its tests."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from torch import nn

from ..judge.thresholds import DEAD_RELU_INIT
from ..vocabulary.finding import Finding
from .setup import Setup


@dataclass(frozen=True)
class Options:
    """What a caller tunes; each probe reads its own."""
    overfit_steps: int = 300
    causal: bool | None = None  # True requires causal independence; None infers it from the targets
    dead_relu: float = DEAD_RELU_INIT  # judge/thresholds.py: DEAD_RELU_TRAINED for a trained model
    trained: bool = False  # the model is as training left it (run), not at initialisation (checkup)
    start: Mapping[str, Any] | None = None  # trained: its state_dict before the first update, when recorded
    metric_fn: Callable[[Any, Any], Any] | None = None  # the setup's metric(output, targets), for stuck-metric
    higher_is_better: bool = True  # the metric's direction (False for an error)
    renewed: frozenset[tuple[str, str]] = frozenset()  # (module, attribute) of state the script sets afresh per batch (run)


@dataclass
class Fitted:
    """The copy a probe fitted to the batch (overfit), for a probe that examines it (ablation)."""
    model: nn.Module
    first_loss: float


def _silent(done: int, total: int, what: str) -> None:
    pass


@dataclass
class Context:
    """Everything a probe gets besides the Setup."""
    options: Options = field(default_factory=Options)
    current_lr: float | None = None  # of the caller's optimizer, for the LR range test
    fitted: Fitted | None = None
    tick: Callable[[int, int, str], None] = _silent  # progress of a probe of many steps: (done, total, what)


Result = tuple[list[Finding], Mapping[str, Any]]  # the findings and the probe's record (a TypedDict)


@dataclass(frozen=True)
class Probe:
    name: str
    run: Callable[[Setup, Context], Result]
    # Where the probe runs in the full battery (the order of the report's records); a probe that reads
    # what another left in the Context (ablation reads overfit's model) comes after it.
    order: int
    about: str  # one line, for --help and the docs
    cheap: bool = False  # one or two forward passes: `run` repeats it on the model training left
    batch_only: bool = False  # looks at the batch alone, so it runs even when the model cannot be probed


_REGISTRY: dict[str, Probe] = {}


def probe(name: str, *, order: int, about: str, cheap: bool = False,
          batch_only: bool = False) -> Callable[[Callable[[Setup, Context], Result]], Callable[[Setup, Context], Result]]:
    """Register the decorated function `(setup, context) -> (findings, record)` as probe `name`."""
    def register(fn: Callable[[Setup, Context], Result]) -> Callable[[Setup, Context], Result]:
        known = _REGISTRY.get(name)
        if known and (known.run.__module__, known.run.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"probe {name!r} is registered twice ({_REGISTRY[name].run.__module__} and {fn.__module__})")
        _REGISTRY[name] = Probe(name, fn, order, about, cheap, batch_only)
        return fn
    return register


def registered() -> tuple[Probe, ...]:
    """Every probe, in battery order."""
    from . import probes

    for module in pkgutil.iter_modules(probes.__path__):
        importlib.import_module(f"{probes.__name__}.{module.name}")
    return tuple(sorted(_REGISTRY.values(), key=lambda p: p.order))


def names(*, cheap: bool = False) -> tuple[str, ...]:
    """The probes' names in battery order; `cheap`: only those of one or two forward passes."""
    return tuple(p.name for p in registered() if p.cheap or not cheap)
