"""Which actions a policy-gradient loss trains the log-probability of, against the actions the policy drew.

The surrogate −log π(a|s)·A estimates the policy gradient only when `a` is the action drawn from π in state `s`
and executed there. Watched, only reading: the draws — `sample`/`rsample` of torch.distributions, and
`torch.multinomial` — and the evaluations that enter a loss with gradients — a distribution's `log_prob(value)`,
and `gather` on a log-softmax (or the log of probabilities). Each is tied to the state it is about: the input
of the model called last before it (before the distribution was built, for a distribution), with as many rows.
A ledger keeps, per state (its row's values), the actions drawn there; an evaluation at a state of the ledger
whose action is none of them trains the log-probability of an action the policy did not take there.

A draw is no action taken when it is a redraw: one call over more states than any draw before it, all of them
states the policy already drew in (a fresh `dist.sample()` over a rollout's states); its values stay out of the
ledger. A value that carries gradients (`rsample` in the loss: SAC's actor, a VAE's latent) is a pathwise term,
not the score-function surrogate: neither a draw nor an evaluation here.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import distributions

from .stats import batch_tensors

_CALLS_KEPT = 4  # model calls a draw or an evaluation may be about (an actor's and a critic's on one state)
_STATES_KEPT = 100_000  # states in the ledger, oldest dropped first (a rollout buffer is a few thousand)
_KEY_COLUMNS = 4096  # values of a state row that make its key (an image's are strided)
_LOG_OPS = ("LogSoftmaxBackward0", "LogBackward0")  # a gather on these reads log-probabilities
_EXAMPLES = 3
_WALK = 500  # autograd nodes looked through for the weights a tensor came from


@dataclass
class Actions:
    calls: list[tuple[int, Any, torch.Tensor]] = field(default_factory=list)  # (sequence number, model, input)
    seq: int = 0
    since: int = 0  # the sequence number of the latest draw or evaluation: later calls are what comes next
    built: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)  # distribution -> state
    ledger: dict[int, dict[int, Any]] = field(default_factory=dict)  # state key -> {action key: action} drawn there
    widest: int = 0  # the most rows an acting draw had
    redrawn: list[weakref.ref] = field(default_factory=list)  # the latest redraws' values
    draws: int = 0
    redraws: int = 0
    checked: int = 0  # evaluated rows at states of the ledger
    untaken: int = 0  # ... whose action was not drawn there
    evaluations: list[dict[str, Any]] = field(default_factory=list)  # the first with untaken rows, a few

    def model_called(self, module: Any, args: tuple, kwargs: dict) -> None:
        first = next((t for _, t in batch_tensors(args, kwargs)), None)
        if first is not None:
            self.seq += 1
            self.calls = [*self.calls[1 - _CALLS_KEPT:], (self.seq, module, first)]

    def state_of(self, rows: int, unbatched: bool, made: torch.Tensor | None = None) -> torch.Tensor | None:
        """The input of the model calls since the latest draw or evaluation that has `rows` rows (any, when the
        distribution is unbatched). Calls on other inputs (an actor's on the states, a critic's on the next ones)
        are told apart by the model whose weights `made` (the distribution's parameter, the log-probabilities)
        was computed from; None when they cannot be."""
        found = [(m, t) for seq, m, t in self.calls
                 if seq > self.since and (unbatched or (t.dim() and t.shape[0] == rows))]
        if found and any(t is not found[-1][1] and not _same(t, found[-1][1]) for _, t in found):
            weight = _nearest_weight(made)
            found = [(m, t) for m, t in found if weight is not None and any(p is weight for p in m.parameters())]
            if found and any(t is not found[-1][1] and not _same(t, found[-1][1]) for _, t in found):
                return None
        return found[-1][1] if found else None

    def built_from(self, dist: distributions.Distribution) -> None:
        made = next((v for v in vars(dist).values() if isinstance(v, torch.Tensor) and v.grad_fn is not None), None)
        try:
            self.built[dist] = self.state_of(*_rows(dist), made)
        except TypeError:  # not weak-referenceable
            pass

    def of(self, dist: distributions.Distribution, value: torch.Tensor) -> tuple[torch.Tensor | None, int]:
        """The state a distribution's value is about, and its rows (None: not one value per batch row)."""
        if tuple(value.shape) != tuple(dist.batch_shape + dist.event_shape):
            return None, 1
        rows, unbatched = _rows(dist)
        return (self.built[dist] if dist in self.built else self.state_of(rows, unbatched)), rows

    def drew(self, state: torch.Tensor | None, value: torch.Tensor, rows: int) -> None:
        self.since = self.seq
        states, actions = _keys(state, rows), _keys(value, rows)
        if states is None or actions is None:
            return
        self.draws += 1
        if rows > 1 and rows > self.widest and all(s in self.ledger for s, _ in states):
            self.redraws += 1
            self.redrawn = [*(r for r in self.redrawn[-_EXAMPLES:] if r() is not None), weakref.ref(value)]
            return
        self.widest = max(self.widest, rows)
        for (s, _), (a, action) in zip(states, actions):
            self.ledger.setdefault(s, {})[a] = action
        while len(self.ledger) > _STATES_KEPT:
            del self.ledger[next(iter(self.ledger))]

    def evaluated(self, state: torch.Tensor | None, value: torch.Tensor, rows: int, how: str,
                  where: Callable[[], dict[str, Any]]) -> None:
        self.since = self.seq
        states, actions = _keys(state, rows), _keys(value, rows)
        if states is None or actions is None:
            return
        known = [(i, a, action, self.ledger[s]) for i, ((s, _), (a, action)) in enumerate(zip(states, actions))
                 if s in self.ledger]
        untaken = [(i, action, drawn) for i, a, action, drawn in known if a not in drawn]
        self.checked += len(known)
        self.untaken += len(untaken)
        if untaken and len(self.evaluations) < _EXAMPLES:
            i, action, drawn = untaken[0]
            redraw = any(r() is value for r in self.redrawn)
            self.evaluations.append({
                "how": how + (", of a fresh draw" if redraw else ""), "rows": rows, "checked": len(known),
                "untaken": len(untaken), "row": i, "evaluated": action, "drawn": list(drawn.values())[:4], **where()})


def _nearest_weight(t: torch.Tensor | None) -> torch.Tensor | None:
    """The weight closest to `t` in its autograd graph (breadth first, a bounded walk): the model it came from."""
    queue, seen = [t.grad_fn] if t is not None and t.grad_fn is not None else [], 0
    while queue and seen < _WALK:
        node = queue.pop(0)
        seen += 1
        if hasattr(node, "variable"):
            return node.variable
        queue += [n for n, _ in node.next_functions if n is not None]
    return None


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and bool(torch.equal(a, b))


def _rows(dist: distributions.Distribution) -> tuple[int, bool]:
    shape = dist.batch_shape
    return (int(shape[0]), False) if len(shape) else (1, True)


def _keys(t: torch.Tensor | None, rows: int) -> list[tuple[int, Any]] | None:
    """Per row, a key and the row's values (a number, or the first few): the values as float32, so that an action
    stored as a float or an int, a state as float64 or float32, key alike."""
    if t is None or t.is_complex() or not t.numel() or t.numel() % rows:
        return None
    flat = t.detach().reshape(rows, -1)
    if flat.shape[1] > _KEY_COLUMNS:
        flat = flat[:, :: -(-flat.shape[1] // _KEY_COLUMNS)]
    data = flat.to("cpu", torch.float32).contiguous().numpy()
    return [(hash(row.tobytes()), float(row[0]) if len(row) == 1 else row[:4].tolist()) for row in data]


_local = threading.local()  # inside a watched call: its own draws and gathers are not the script's


class _Inside:
    def __enter__(self) -> bool:
        outer = getattr(_local, "inside", False)
        _local.inside = True
        self.outer = outer
        return outer

    def __exit__(self, *exc: Any) -> None:
        _local.inside = self.outer


def _classes() -> list[type]:
    found = {distributions.Distribution}
    for value in vars(distributions).values():
        if isinstance(value, type) and issubclass(value, distributions.Distribution):
            found.add(value)
    return sorted(found, key=lambda c: c.__qualname__)


def watch_actions(rec: Any, wanted: Callable[[], bool]) -> Callable[[], None]:
    """Patch the distributions' `__init__`, `sample`, `rsample`, `log_prob`, and `multinomial` and `gather`
    (torch's and Tensor's), so that `rec.on_built/on_drawn/on_evaluated` see them while `wanted()`; returns
    the undo."""
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        saved.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, make(getattr(owner, name)))

    def init(original):
        @functools.wraps(original)
        def __init__(self, *args, **kwargs):
            original(self, *args, **kwargs)
            if not getattr(_local, "inside", False) and wanted():
                rec.on_built(self)
        return __init__

    def draw(original):
        signature = inspect.signature(original)

        @functools.wraps(original)
        def sample(self, *args, **kwargs):
            with _Inside() as outer:
                out = original(self, *args, **kwargs)
            shape = signature.bind(self, *args, **kwargs).arguments.get("sample_shape", ())
            # a value with gradients (rsample in a loss, a VAE's latent) is a pathwise term, no action taken
            if (not outer and not len(shape) and isinstance(out, torch.Tensor) and not out.requires_grad
                    and wanted()):
                rec.on_drawn(self, out)
            return out
        return sample

    def log_prob(original):
        @functools.wraps(original)
        def wrapper(self, value, *args, **kwargs):
            with _Inside() as outer:
                out = original(self, value, *args, **kwargs)
            if not outer and _trained(value, out) and wanted():
                rec.on_evaluated(self, value)
            return out
        return wrapper

    def multinomial(original):
        @functools.wraps(original)
        def wrapper(input, num_samples, *args, **kwargs):
            with _Inside() as outer:
                out = original(input, num_samples, *args, **kwargs)
            if not outer and num_samples == 1 and isinstance(out, torch.Tensor) and input.dim() <= 2 and wanted():
                rec.on_sampled(out, input.shape[0] if input.dim() == 2 else 1, input.dim() == 1)
            return out
        return wrapper

    def gather(original):
        @functools.wraps(original)
        def wrapper(input, dim, index, *args, **kwargs):
            out = original(input, dim, index, *args, **kwargs)
            if (not getattr(_local, "inside", False) and isinstance(index, torch.Tensor) and input.dim() == 2
                    and type(input.grad_fn).__name__ in _LOG_OPS and dim in (1, -1)
                    and tuple(index.shape) == (input.shape[0], 1) and _trained(index, out) and wanted()):
                rec.on_gathered(input, index, input.shape[0])
            return out
        return wrapper

    try:
        patch(distributions.Distribution, "__init__", init)
        for cls in _classes():
            for name in ("sample", "rsample"):
                if name in vars(cls):
                    patch(cls, name, draw)
            if "log_prob" in vars(cls):
                patch(cls, "log_prob", log_prob)
        for owner in (torch, torch.Tensor):
            patch(owner, "multinomial", multinomial)
            patch(owner, "gather", gather)
    except BaseException:
        _restore(saved)
        raise
    return lambda: _restore(saved)


def _trained(value: Any, out: Any) -> bool:
    """An evaluation whose result carries gradients to the policy, of a value that carries none: the
    score-function term. (A value with gradients is a reparameterised sample: a pathwise term.)"""
    return (isinstance(value, torch.Tensor) and isinstance(out, torch.Tensor) and torch.is_grad_enabled()
            and out.requires_grad and not value.requires_grad)


def _restore(saved: list[tuple[Any, str, Any]]) -> None:
    for owner, name, own in reversed(saved):
        if own is None:  # inherited (Tensor's methods live on its C base): drop the override
            delattr(owner, name)
        else:
            setattr(owner, name, own)
