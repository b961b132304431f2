"""Which actions a policy-gradient loss trains the log-probability of, against the actions the policy drew.

The surrogate −log π(a|s)·A estimates the policy gradient only when `a` is the action drawn from π in state `s` and
executed there. Watched, only reading: the draws — `sample`/`rsample` of torch.distributions, and
`torch.multinomial` — and the evaluations that enter a loss with gradients — a distribution's `log_prob(value)`,
and `gather` on a log-softmax (or the log of probabilities). Each is tied to the states it is about: the input of
the model call whose output the distribution's parameters (the log-probabilities) were computed from, found
through their autograd graph — without one, the input of the calls since the previous draw or evaluation, when
they agree; the value just drawn keeps the states it was drawn in. Where the evaluated states, or else its actions,
are a run of the draws in the order drawn (measure/rollout.py), each row is about the draw at its place: an action
other than the one drawn there, or a state other than the one it was drawn in, is an action not taken in that
state. Otherwise a ledger keeps, per state (its row's values), the actions drawn there; an evaluation at a state of
the ledger whose action is none of them trains the log-probability of an action the policy did not take there.

One action evaluated at every state (the action space enumerated for an entropy or an expectation) is no claim
about the actions taken: it is not checked; nor is a row of another form than the draws' (a target sequence
scored at states where one token at a time was drawn: scheduled sampling).

A distribution drawn from again is about the same states; the first draw is the action taken there. A later draw
whose log-probability is trained while the first draw's never is (`dist.log_prob(dist.sample())` beside the
action executed) is checked row by row against the first: where they differ, the loss trains an action the policy
did not take. When the first draw is trained too, both were acted on (a leave-one-out baseline): nothing is found.
Held until the backward or the next distribution's draw, when it is known whether the first was trained.

A value with gradients evaluated at the distribution's own mean (`d.log_prob(d.mean)`) is no draw at all: it is
checked as an action, its gradient with respect to the mean is zero by construction.

A draw is no action taken when it is a redraw: one call over more states than any draw before it, all of them
states the policy already drew in (a fresh `dist.sample()` over a rollout's states); its values stay out of the
ledger. A value that carries gradients (`rsample` in the loss: SAC's actor, a VAE's latent) is a pathwise term,
not the score-function surrogate: neither a draw nor an evaluation here."""

from __future__ import annotations

import functools
import math
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import distributions

from .rollout import Rollout
from .stats import batch_tensors

_CALLS_KEPT = 4  # model calls a draw or an evaluation may be about (an actor's and a critic's on one state)
_STATES_KEPT = 100_000  # states in the ledger, oldest dropped first (a rollout buffer is a few thousand)
_KEY_COLUMNS = 4096  # values of a state row that make its key (an image's are strided)
_LOG_OPS = ("LogSoftmaxBackward0", "LogBackward0")  # a gather on these reads log-probabilities
_EXAMPLES = 3
_WALK = 500  # autograd nodes looked through for the model call a tensor came from
_STAMP = "traindoctor.call"  # the key of a model call's stamp in its outputs' autograd nodes
_SECOND = "log_prob of a second draw from the distribution whose first draw was the action taken"
_DRAWN = "traindoctor.drawn"  # a draw's actions, stamped on the autograd nodes its probabilities were computed from
_INDEXED = "index of log-probabilities by the drawn actions"
_INDEX_FIRST, _INDEX_EVERY = 10, 10  # backward passes whose loss is searched for such an index, then one in ten


@dataclass
class Actions:
    calls: list[tuple[int, Any, torch.Tensor]] = field(default_factory=list)  # (sequence number, model, input)
    seq: int = 0
    since: int = 0  # the sequence number of the latest draw or evaluation: later calls are what comes next
    ledger: dict[int, dict[int, Any]] = field(default_factory=dict)  # state key -> {action key: its values} drawn there
    rollout: Rollout = field(default_factory=Rollout)  # the same draws, in order
    widest: int = 0  # the most rows an acting draw had
    widths: set[int] = field(default_factory=set)  # the values per row of the draws: the form of an action
    width: int = 0  # the rows of the latest acting draw: its parallel worlds
    last: tuple | None = None  # the latest draw: (value, value's version, keys of its states, keys of its values)
    source: tuple | None = None  # the latest draw's distribution (or probabilities), weakly, and its states' keys
    redrawn: list[weakref.ref] = field(default_factory=list)  # the latest redraws' values
    draws: int = 0
    redraws: int = 0
    checked: int = 0  # evaluated rows at states of the ledger
    untaken: int = 0  # ... whose action was not drawn there
    evaluations: list[dict[str, Any]] = field(default_factory=list)  # the first with untaken rows, a few
    twice: "_Twice | None" = None  # the latest distribution's draws, while one drawn again may be trained
    marked: bool = False  # a draw was stamped on its probabilities' graph since the latest backward
    passes: int = 0  # backward passes after such draws

    def model_called(self, module: Any, args: tuple, kwargs: dict) -> None:
        first = args[0] if args and isinstance(args[0], torch.Tensor) else next(
            (t for _, t in batch_tensors(args, kwargs)), None)
        if first is not None:
            self.seq += 1
            self.calls = [*self.calls[1 - _CALLS_KEPT:], (self.seq, module, first)]

    def model_returned(self, module: Any, outputs: list[Any]) -> None:
        """The call's outputs' autograd nodes are stamped with it: what a distribution is built from is found by
        walking its parameter's graph to them (a stamp in the node's metadata keeps no graph alive)."""
        if self.calls and self.calls[-1][1] is module:
            for t in outputs:
                if isinstance(t, torch.Tensor) and t.grad_fn is not None:
                    t.grad_fn.metadata[_STAMP] = self.calls[-1][0]

    def state_of(self, rows: int, unbatched: bool, made: Callable[[], torch.Tensor | None],
                 lead: tuple = ()) -> tuple[torch.Tensor | None, int]:
        """The input of the model call a distribution's parameter or the log-probabilities (`made()`) were computed
        from, found through their graph; without one, of the calls since the latest draw or evaluation, when they
        agree; and its rows. Its rows must be `rows` (any, when the distribution is unbatched), or its leading
        dims those of the batch shape `lead` (time × environments: a state per position, the rest of the batch
        shape the action's components); (None, rows) when no call fits."""
        fits = {}
        for seq, _, t in self.calls:
            k = next((k for k in range(min(len(lead), t.dim()), 1, -1) if tuple(t.shape[:k]) == lead[:k]), 0)
            if k:
                fits[seq] = (t, math.prod(lead[:k]))
            # one row: the whole input is its state, whatever its layout (one unbatched observation)
            elif unbatched or rows == 1 or (t.dim() and t.shape[0] == rows):
                fits[seq] = (t, rows)
        made_from = _stamp(made())
        if made_from is not None:
            return fits.get(made_from, (None, rows))
        found = [v for seq, v in fits.items() if seq > self.since]
        if not found or any(t is not found[-1][0] and not _same(t, found[-1][0]) for t, _ in found):
            return None, rows
        return found[-1]

    def drew(self, value: torch.Tensor, rows: int, unbatched: bool, made: Callable[[], torch.Tensor | None],
             source: Any = None, lead: tuple = ()) -> None:
        """A draw from `source`; drawn from again (two actions per state), it is about the same states."""
        again = source is not None and self.source is not None and self.source[0]() is source
        if again:
            states = self.source[1]
            rows = len(states[0]) if states is not None else rows
        else:
            state, rows = self.state_of(rows, unbatched, made, lead)
            states = _keys(state, rows)
        if source is not None:
            self.source = (weakref.ref(source), states)
        actions = _keys(value, rows)
        self.since = self.seq
        if not again:
            self.settle()
        if states is None or actions is None:
            return
        if rows > 1 and actions[1].shape[1] == 1:
            self._mark(made(), actions[1][:, 0])
        if not again:
            self.twice = _Twice(weakref.ref(value), actions)
        elif self.twice is not None:
            self.twice.later.append(weakref.ref(value))
        self.draws += 1
        self.widths.add(actions[1].shape[1])
        self.last = (value, value._version, states, actions)
        if rows > 1 and rows > self.widest and all(s in self.ledger for s in states[0]):
            self.redraws += 1
            self.redrawn = [*(r for r in self.redrawn[-_EXAMPLES:] if r() is not None), weakref.ref(value)]
            return
        self.widest, self.width = max(self.widest, rows), rows
        for s, a, row in zip(states[0], actions[0], actions[1]):
            self.ledger.setdefault(s, {})[a] = row
        self.rollout.drew(states[0], actions[0])
        while len(self.ledger) > _STATES_KEPT:
            del self.ledger[next(iter(self.ledger))]

    def evaluated(self, value: torch.Tensor, rows: int, unbatched: bool, made: Callable[[], torch.Tensor | None],
                  how: str, where: Callable[[], dict[str, Any]], lead: tuple = ()) -> None:
        """An evaluation of `value`'s log-probability; the value just drawn is about the states it was drawn in."""
        last = self.last
        if last is not None and last[0] is value and last[1] == value._version:
            states, actions = last[2], last[3]
            rows = len(actions[0])
        else:
            state, rows = self.state_of(rows, unbatched, made, lead)
            states, actions = _keys(state, rows), _keys(value, rows)
        self.since = self.seq
        if states is None or actions is None:
            return
        if rows > 1 and len(set(actions[0])) == 1 and len(set(states[0])) > 1:
            return  # one action at every state: the action space enumerated, not the actions taken
        if actions[1].shape[1] not in self.widths:
            return  # not of the form the policy draws (a target sequence scored where one token was drawn)
        twice = self.twice
        if twice is not None and twice.first() is value:
            twice.trained = True
        elif twice is not None and any(r() is value for r in twice.later) and len(actions[0]) == len(twice.actions[0]):
            untaken = [(i, [twice.actions[1][i]]) for i, (a, b) in enumerate(zip(actions[0], twice.actions[0])) if a != b]
            twice.found.append((rows, untaken, actions, where()))
            return
        checked, untaken, order = self._paired(states, actions) or self._unordered(states, actions)
        redraw = any(r() is value for r in self.redrawn)
        self._count(rows, checked, untaken, actions, order, how + (", of a fresh draw" if redraw else ""), where())

    def _mark(self, made: torch.Tensor | None, drawn: np.ndarray) -> None:
        """Stamp a draw of one action per row on the nodes its probabilities came from and on their inputs (the
        logits a log-softmax of the same rows is also computed from)."""
        node = made.grad_fn if made is not None else None
        if node is None:
            return
        for n in [node] + [fn for fn, _ in node.next_functions if fn is not None]:
            n.metadata.setdefault(_DRAWN, []).append(drawn)
        self.marked = True

    def backward(self, loss: Any, where: Callable[[], dict[str, Any]]) -> None:
        """A loss that reads (B, A) log-probabilities by advanced indexing with a draw of those rows as the action
        index: each row must be read at its own draw (`lp[arange(B), a]`). An index pairing rows with other rows'
        draws (`lp[:, a]`: every row at every draw, a B × B table) trains actions not taken in those rows."""
        if not self.marked or not isinstance(loss, torch.Tensor) or loss.grad_fn is None:
            return
        self.marked = False
        self.passes += 1
        if self.passes > _INDEX_FIRST and self.passes % _INDEX_EVERY:
            return
        queue, seen = [loss.grad_fn], {id(loss.grad_fn)}
        while queue and len(seen) < _WALK * 4:
            node = queue.pop(0)
            if type(node).__name__ == "IndexBackward0":
                self._indexed(node, where)
            for fn, _ in node.next_functions:
                if fn is not None and id(fn) not in seen:
                    seen.add(id(fn))
                    queue.append(fn)

    def _indexed(self, node: Any, where: Callable[[], dict[str, Any]]) -> None:
        source = node.next_functions[0][0]
        if source is None or type(source).__name__ not in _LOG_OPS:
            return
        indices, sizes = node._saved_indices, tuple(node._saved_self_sym_sizes)
        if len(sizes) != 2 or len(indices) != 2 or not isinstance(indices[1], torch.Tensor):
            return
        rows, index = sizes[0], indices[1].detach().cpu().reshape(-1).numpy()
        draws = [d for n in [source] + [fn for fn, _ in source.next_functions if fn is not None]
                 for d in n.metadata.get(_DRAWN, [])]
        drawn = next((d for d in draws if len(d) == rows == len(index) and np.array_equal(d, index)), None)
        if drawn is None:
            return  # not indexed by a draw of these rows: an enumeration, or no action at all
        if indices[0] is None:  # every row read at every row's draw
            at, read = np.repeat(np.arange(rows), len(index)), np.tile(index, rows)
        else:
            at, read = (t.reshape(-1).numpy() for t in torch.broadcast_tensors(indices[0].detach().cpu(),
                                                                              indices[1].detach().cpu()))
        off = read != drawn[at]
        shown = drawn.astype(np.float32)[:, None].copy()
        shown[at[off], 0] = read[off]
        untaken = [(int(i), [drawn[i:i + 1]]) for i in np.unique(at[off])]
        self._count(rows, len(np.unique(at)), untaken, (None, shown), "index", _INDEXED, where())

    def settle(self) -> None:
        """The latest distribution's later draws that were trained: untaken actions where its first, the action
        taken, never was."""
        twice, self.twice = self.twice, None
        if twice is not None and not twice.trained:
            for rows, untaken, actions, at in twice.found:
                self._count(rows, rows, untaken, actions, "second", _SECOND, at)

    def _count(self, rows: int, checked: int, untaken: list, actions: tuple, order: str, how: str,
               at: dict[str, Any]) -> None:
        self.checked += checked
        self.untaken += len(untaken)
        if untaken and len(self.evaluations) < _EXAMPLES:
            i, drawn = untaken[0]
            self.evaluations.append({
                "how": how, "rows": rows, "checked": checked, "untaken": len(untaken), "row": i,
                "evaluated": _shown(actions[1][i]), "order": order, "drawn": [_shown(row) for row in drawn[:4]], **at})

    def _paired(self, states: tuple, actions: tuple) -> tuple[int, list, str] | None:
        """Rows checked, the untaken ones (row, actions drawn there), and by which order, when the evaluated states
        or else actions are a run of the draws: each row is about the draw at its place. Rows stacked world by
        world (each of the parallel worlds' steps together) are read step by step, as they were drawn."""
        n = len(states[0])
        orders = [range(n)]
        if 1 < self.width < n and n % self.width == 0:
            orders.append(np.arange(n).reshape(self.width, -1).T.reshape(-1).tolist())
        for order in orders:
            places = self.rollout.aligned([states[0][i] for i in order], 0)
            if places is not None:
                drawn = self.rollout.at(places, n, 1)
                return n, [(i, self._values(states[0][i], d)) for i, d in zip(order, drawn)
                           if actions[0][i] not in d], "states"
        for order in orders:
            places = self.rollout.aligned([actions[0][i] for i in order], 1)
            if places is not None:
                drawn_in = self.rollout.at(places, n, 0)
                known = [(i, d) for i, d in zip(order, drawn_in) if states[0][i] in self.ledger]  # acted in
                return len(known), [(i, []) for i, d in known if states[0][i] not in d], "actions"
        return None

    def _unordered(self, states: tuple, actions: tuple) -> tuple[int, list, str]:
        known = [(i, a, self.ledger[s]) for i, (s, a) in enumerate(zip(states[0], actions[0])) if s in self.ledger]
        return len(known), [(i, list(drawn.values())) for i, a, drawn in known if a not in drawn], "ledger"

    def _values(self, state: int, keys: set[int]) -> list[Any]:
        """The drawn actions' values, for the message (those the ledger still holds)."""
        held = self.ledger.get(state, {})
        return [held[k] for k in keys if k in held]


@dataclass
class _Twice:
    """A distribution's first draw (the action taken) and its later draws (`later`)."""
    first: weakref.ref
    actions: tuple  # the first draw's keys and rows
    later: list[weakref.ref] = field(default_factory=list)
    trained: bool = False  # the first draw's log-probability was trained
    found: list[tuple] = field(default_factory=list)  # (rows, untaken rows, evaluated actions, where) of later ones


def rows_of(dist: distributions.Distribution, value: torch.Tensor) -> tuple[int, bool, tuple] | None:
    """A distribution's rows (batch_shape[0]; 1 when unbatched), whether it is unbatched, and its batch shape, for
    a value of one action per row, else None."""
    shape = dist.batch_shape
    if tuple(value.shape) != tuple(shape + dist.event_shape):
        return None
    return (int(shape[0]), False, tuple(shape)) if len(shape) else (1, True, ())


def parameter(dist: distributions.Distribution) -> torch.Tensor | None:
    """A parameter of the distribution computed with gradients (its logits, probabilities, mean)."""
    return next((v for v in vars(dist).values() if isinstance(v, torch.Tensor) and v.grad_fn is not None), None)


def _stamp(t: torch.Tensor | None) -> int | None:
    """The model call whose output is nearest to `t` in its autograd graph (breadth first, a bounded walk)."""
    queue, seen = [t.grad_fn] if t is not None and t.grad_fn is not None else [], 0
    while queue and seen < _WALK:
        node = queue.pop(0)
        seen += 1
        if _STAMP in node.metadata:
            return node.metadata[_STAMP]
        queue += [n for n, _ in node.next_functions if n is not None]
    return None


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and bool(torch.equal(a, b))


def _keys(t: torch.Tensor | None, rows: int) -> tuple[list[int], Any] | None:
    """A key per row (its values as float32, so that an action stored as a float or an int, a state as float64 or
    float32, key alike), and the rows as an array."""
    if t is None or t.is_complex() or not t.numel() or t.numel() % rows:
        return None
    data = t.detach().to("cpu", torch.float32).numpy().reshape(rows, -1)  # numpy's reshape: no view of torch's is watched
    if data.shape[1] > _KEY_COLUMNS:
        data = data[:, :: -(-data.shape[1] // _KEY_COLUMNS)]
    raw, n = data.tobytes(), data.shape[1] * 4
    return [hash(raw[i * n:(i + 1) * n]) for i in range(rows)], data


def _shown(row: Any) -> Any:
    """A row's action as the script would print it: a class index as an int, a continuous one as floats."""
    values = [int(v) if float(v).is_integer() else float(v) for v in row[:4].tolist()]
    return values[0] if len(row) == 1 else values


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
    """Patch the distributions' `sample`, `rsample` and `log_prob`, and `multinomial`, `gather` and `max` (torch's
    and Tensor's), so that the recorder's `on_drawn`, `on_sampled`, `on_evaluated` and `on_gathered` see them (an
    evaluation with its result) while `wanted()`; returns the undo."""
    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        saved.append((owner, name, owner.__dict__.get(name)))
        setattr(owner, name, make(getattr(owner, name)))

    def draw(original):
        @functools.wraps(original)
        def sample(self, *args, **kwargs):
            with _Inside() as outer:
                out = original(self, *args, **kwargs)
            shape = args[0] if args else kwargs.get("sample_shape", ())
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
            if not outer and (_trained(value, out) or _at_mean(self, value, out)) and wanted():
                rec.on_evaluated(self, value, out)
            return out
        return wrapper

    def multinomial(original):
        @functools.wraps(original)
        def wrapper(input, num_samples, *args, **kwargs):
            with _Inside() as outer:
                out = original(input, num_samples, *args, **kwargs)
            if not outer and num_samples == 1 and isinstance(out, torch.Tensor) and input.dim() <= 2 and wanted():
                rec.on_sampled(out, input.shape[0] if input.dim() == 2 else 1, input.dim() == 1, input)
            return out
        return wrapper

    def gather(original):
        @functools.wraps(original)
        def wrapper(input, dim, index, *args, **kwargs):
            out = original(input, dim, index, *args, **kwargs)
            # log-probabilities over the last dim, one index per row of the leading ones: (B, A), (T, B, A)
            if (not getattr(_local, "inside", False) and isinstance(index, torch.Tensor) and input.dim() >= 2
                    and type(input.grad_fn).__name__ in _LOG_OPS and dim % input.dim() == input.dim() - 1
                    and tuple(index.shape) == (*input.shape[:-1], 1) and _trained(index, out) and wanted()):
                rec.on_gathered(input, index, out)
            return out
        return wrapper

    def top(original):
        @functools.wraps(original)
        def wrapper(input, *args, **kwargs):
            with _Inside() as outer:  # Tensor.max may reach torch.max again
                out = original(input, *args, **kwargs)
            dim = args[0] if args else kwargs.get("dim")
            # the largest log-probability over the last dim, with gradients: log π of the top action, evaluated
            if (isinstance(dim, int) and not isinstance(dim, bool) and not outer
                    and isinstance(input, torch.Tensor) and input.dim() >= 2
                    and type(input.grad_fn).__name__ in _LOG_OPS and dim % input.dim() == input.dim() - 1
                    and isinstance(out, tuple) and _trained(out[1], out[0]) and wanted()):
                index = out[1] if out[1].dim() == input.dim() else out[1].unsqueeze(-1)
                rec.on_gathered(input, index, out[0], "max of log-probabilities (the top action's)")
            return out
        return wrapper

    try:
        for cls in _classes():
            for name in ("sample", "rsample"):
                if name in vars(cls):
                    patch(cls, name, draw)
            if "log_prob" in vars(cls):
                patch(cls, "log_prob", log_prob)
        for owner in (torch, torch.Tensor):
            patch(owner, "multinomial", multinomial)
            patch(owner, "gather", gather)
            patch(owner, "max", top)
    except BaseException:
        _restore(saved)
        raise
    return lambda: _restore(saved)


def _trained(value: Any, out: Any) -> bool:
    """An evaluation whose result carries gradients to the policy, of a value that carries none: the
    score-function term. (A value with gradients is a reparameterised sample: a pathwise term.)"""
    return (isinstance(value, torch.Tensor) and isinstance(out, torch.Tensor) and torch.is_grad_enabled()
            and out.requires_grad and not value.requires_grad)


def _at_mean(dist: distributions.Distribution, value: Any, out: Any) -> bool:
    """An evaluation, with gradients, at the distribution's own mean (`d.log_prob(d.mean)`): no draw, nor a
    reparameterised sample, which lies off the mean."""
    if not (isinstance(value, torch.Tensor) and value.requires_grad and isinstance(out, torch.Tensor)
            and out.requires_grad and torch.is_grad_enabled()):
        return False
    with torch._C.DisableTorchFunction():  # a loss head on tape (measure/tape.py) must not see these reads
        try:
            mean = dist.mean
        except NotImplementedError:
            return False
        return (isinstance(mean, torch.Tensor) and mean.shape == value.shape
                and bool(torch.equal(mean.detach(), value.detach())))


def _restore(saved: list[tuple[Any, str, Any]]) -> None:
    for owner, name, own in reversed(saved):
        if own is None:  # inherited (Tensor's methods live on its C base): drop the override
            delattr(owner, name)
        else:
            setattr(owner, name, own)
