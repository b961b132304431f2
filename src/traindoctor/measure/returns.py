"""Which rewards the weights of a policy-gradient loss are built from: the return (reward-to-go, advantage, GAE)
that multiplies log π(a_t|s_t) must come from the rewards at t and after, never from earlier ones.

The log-probabilities a loss trains are stamped in their autograd nodes where they are evaluated (a
distribution's `log_prob`, a gather on a log-softmax: measure/actions.py watches both). On sampled backward
passes the loss's graph is walked for a product whose one side reaches a stamped node: the other side is the
weight. The rewards are read from the script's variables (the frames from the backward's up to the top): a 1-D
or 2-D floating tensor, a list of numbers, of 0-dim or of equal 1-D tensors or lists, a field of each record in a
list of records, a Dataset's fields; with as many values as the weights
(a 2-D one read with either axis as time), or, when the weights are 1-D (a flat buffer), fewer: the latest
episode's, the weights' tail.

Each construction is then fitted to the weights, affine (standardised returns, a baseline subtracted; with
many columns, also after removing each step's mean over them), with the discount searched over a grid: the
reward-to-go G_t = r_t + γ·G_{t+1}; the past sum P_t = r_t + γ·P_{t-1}; the reward-to-go reversed in time
(G_{T-1-t}); and shifted by one with the wrap-around (G_{t+1}, the last step taking G_0); a discount counted
from each step or from the episode's start. When the log-probabilities were evaluated step after step and are
stacked in that order, a position is a step, and weights that are the reward-to-go's exact values at other
steps are "permuted". Weights that are a minibatch drawn from a longer buffer among the variables (a Dataset's
returns behind a shuffling DataLoader) are read as that buffer, whose order is not taken for time. A variable is
rewards only when some construction with γ > 0 explains the weights better than the variable itself does (the
weights accumulate it: not a copy of the weights, nor values, nor the returns themselves); of those, the one
whose best construction explains the weights best is kept. judge/returns.py compares the constructions."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .frames import user_frame

STAMP = "traindoctor.logprob"  # the key of an evaluated log-probability's stamp (its evaluation's rank) in its node
FAMILIES = ("future", "past", "reversed", "shifted", "permuted")  # "future" is the right one
_GAMMAS = (0.0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99, 1.0)
_ACCUMULATES = 0.05  # a construction with γ > 0 explains this much more variance than γ = 0: rewards
_WALK = 2000  # nodes of the loss graph looked through for the product
_SIDE = 64  # nodes of a product's side looked through for a stamped log-probability
_FIRST = 12  # backward passes observed one by one, then one in _EVERY, up to _OBSERVED
_EVERY = 10
_OBSERVED = 40
_MIN_ROWS = 6  # steps of an episode: fewer cannot tell an order (a few points fit anything)
_MAX_VALUES = 100_000
_COLUMNS_CENTRED = 8  # columns from which each step's mean over them may be removed (a per-step baseline)
_MEMBERS = 16  # a container with more items is no batch
_EXACT = 1e-6  # 1 − R² under which the weights are the reward-to-go's very values, rearranged
_DISTINCT = 6  # distinct reward-to-go values needed before a rearrangement of them can be told from chance
_REFINE = 40  # bisections of the discount around the grid's best, for the exact rearrangement
_KEPT = 512  # the latest draws whose variables are remembered
_SNAPPED = 2000  # draws whose variables are remembered in all
_HELD = 4096  # values of a variable remembered at a draw
_LIBRARIES = {"builtins", "torch", "numpy", "traindoctor", "types", "typing", "functools", "collections",
              "pandas", "gym", "gymnasium"}  # whose objects' fields are no script's record
_REORDERS = {"Index", "IndexSelect", "Gather", "Flip", "Roll", "Sort", "Permute", "Transpose", "T", "Take",
             "IndexPut", "MaskedSelect", "Scatter"}  # ops after which a log-probability's position is not its step's


@dataclass
class Observation:
    step: int
    name: str  # the rewards' variable
    credit: float | None  # the sign with which the loss credits the weights (None: not known)
    steps: int  # steps in time
    columns: int  # episodes (parallel environments) side by side
    fits: dict[str, tuple[float, float]]  # family -> (R², its discount)
    location: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the buffer the weights were drawn from, when they were read there


@dataclass
class Early:
    """Per-step values the weights increase with, whose row of each step already existed when that step's action
    was drawn (`early` rows of `rows` that tell steps apart) and no longer at the next draw (`late` did)."""
    step: int
    name: str
    rows: int
    early: int
    late: int
    fit: float  # R² of the weights on a reward-to-go of these values, credited as the loss credits the weights
    location: dict[str, Any] = field(default_factory=dict)


@dataclass
class Own:
    """A regression whose target is reward + γ·(its own prediction) on every non-terminal sample: a TD target
    bootstrapped from the value of the state the sample starts in, not of the next one."""
    step: int
    name: str  # the rewards' variable
    gamma: float
    samples: int  # non-terminal samples, all of them matched
    location: dict[str, Any] = field(default_factory=dict)


@dataclass
class Returns:
    observations: list[Observation] = field(default_factory=list)
    early: list[Early] = field(default_factory=list)
    own: list[Own] = field(default_factory=list)
    regressions: int = 0  # regression losses checked for a target bootstrapped from its own prediction
    # per draw of an action, its size and the values the script's variables held then (hashed)
    draws: deque = field(default_factory=lambda: deque(maxlen=_KEPT))
    snapped: int = 0  # draws whose variables were remembered
    evaluated: bool = False  # a log-probability was stamped since the last backward
    seen: int = 0  # backward passes after evaluations
    rank: int = 0  # log-probabilities evaluated so far

    def stamp(self, out: Any) -> None:
        if isinstance(out, torch.Tensor) and out.grad_fn is not None:
            self.rank += 1
            out.grad_fn.metadata[STAMP] = self.rank
            self.evaluated = True

    def drew(self, value: Any) -> None:
        """An action was drawn: what the script's variables hold now existed before it (remembered only ahead of
        a backward pass that will be observed, up to _SNAPPED draws; the others are kept as unknown)."""
        wanted = self.snapped < _SNAPPED and len(self.observations) < _OBSERVED and _observed(self.seen + 1)
        self.snapped += wanted
        self.draws.append((int(value.numel()), _held(user_frame())) if wanted else (-1, set()))

    def regressed(self, pred: Any, target: Any, step: int, where: Callable[[], dict[str, Any]]) -> None:
        """A regression of a prediction with gradients on a target without: is the target, sample by sample,
        a reward among the script's variables plus one discount times the prediction itself (zero past a
        terminal step)? A TD target must bootstrap from the next state's value; the prediction is the value of
        the state the transition starts in."""
        if (not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor) or not pred.requires_grad
                or target.requires_grad or pred.numel() != target.numel() or not _MIN_ROWS <= pred.numel() <= _HELD
                or self.regressions >= _OBSERVED or not pred.is_floating_point()):
            return
        self.regressions += 1
        v = pred.detach().to("cpu", torch.float64).numpy().reshape(-1)
        y = target.detach().to("cpu", torch.float64).numpy().reshape(-1)
        for name, r in _candidates(user_frame(), lambda n: n == y.size, constant=True):  # sparse rewards
            found = _own(v, y, r.reshape(-1))
            if found is not None:
                self.own.append(Own(step, name, *found, location=where()))
                return

    def backward(self, loss: Any, step: int, where: Callable[[], dict[str, Any]]) -> None:
        if not self.evaluated or not isinstance(loss, torch.Tensor) or loss.grad_fn is None:
            return
        self.evaluated = False
        self.seen += 1
        if len(self.observations) >= _OBSERVED or not _observed(self.seen):
            return
        found = _weights(loss.grad_fn)
        if found is None:
            return
        weights, credit, ordered = found
        frame = user_frame()
        early = self._early(frame, weights, credit, step)
        if early is not None:
            early.location = where()
            self.early.append(early)
        # the weights as they reach the loss; and, when they are a minibatch drawn from a longer buffer (a
        # Dataset's returns), that buffer — the minibatch's rows say nothing of time, and the buffer's order
        # need not be the steps' (a backward loop may store them last first), so there only what its values
        # are built of is judged
        targets = [(weights, ordered, "")] + [(buffer, -1, key) for key, buffer in _buffers(frame, weights)]
        best = None
        for weights, ordered, source in targets:
            flat = weights.squeeze().ndim == 1
            for name, rewards in _candidates(frame, lambda n: n == weights.size or (flat and n < weights.size)):
                for steps, columns, w, r in _aligned(weights, rewards):
                    fits = _fits(w, r, credit, ordered)
                    if fits is None:
                        continue
                    top = max(v[0] for v in fits.values())
                    if best is None or top > best[0]:
                        best = (top, Observation(step, name, credit, steps, columns, fits, source=source))
        if best is not None:
            best[1].location = where()
            self.observations.append(best[1])


    def _early(self, frame: FrameType | None, weights: np.ndarray, credit: float | None, step: int) -> Early | None:
        """Among the per-step variables the weights increase with, laid out as the latest draws (one row of the
        draws' size per draw), the one whose rows most often existed already at their own step's draw and not
        at the next: a reward stored beside the action it did not follow."""
        if credit is None:
            return None
        best = None
        for name, values in _candidates(frame, lambda n: n == weights.size):
            for steps, columns, w, r in _aligned(weights, values):
                draws = list(self.draws)[-steps:]
                if len(draws) < steps or any(n != columns for n, _ in draws):
                    continue
                rows = [hash(np.ascontiguousarray(row, np.float32).tobytes()) for row in r]
                told = [t for t in range(1, steps - 1) if rows[t] != rows[t - 1] and rows[t] != rows[t + 1]]
                early = sum(rows[t] in draws[t][1] for t in told)
                late = sum(rows[t] in draws[t + 1][1] for t in told)
                if not told or not early or (best is not None and early - late <= best.early - best.late):
                    continue
                made = np.stack([_discounted(r[::-1], gamma)[::-1] for gamma in _GAMMAS])
                c = float(_corr(made, credit * w).max())  # a reward-to-go of these values, as the loss credits it
                best = Early(step, name, len(told), early, late, c * abs(c))
        return best


def _own(v: np.ndarray, y: np.ndarray, r: np.ndarray) -> tuple[float, int] | None:
    """(γ, non-terminal samples) when y = r + γ·v to float precision wherever y ≠ r, for one γ in (0, 1) (a γ of
    1 is the prediction recovered from an advantage y − v), over enough distinct values of v; else None."""
    rest = y - r
    tol = 1e-5 * (np.abs(y) + np.abs(r)) + 1e-7
    live = (np.abs(rest) > tol) & (np.abs(v) > 1e-6)
    if live.sum() < _MIN_ROWS or np.unique(np.round(v[live], 6)).size < _MIN_ROWS:
        return None
    gamma = float(np.median(rest[live] / v[live]))
    if not 0 < gamma < 1 - 1e-4 or not (np.abs(rest - gamma * v * live) <= tol + 1e-6 * np.abs(v)).all():
        return None
    return round(gamma, 4), int(live.sum())


def _observed(seen: int) -> bool:
    """Whether the `seen`-th backward pass after evaluated log-probabilities is observed."""
    return seen <= _FIRST or seen % _EVERY == 0


def _held(frame: FrameType | None) -> set[int]:
    """The values of the numbers, arrays and tensors among the script's variables, hashed as float32."""
    out = set()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)
                                            and abs(value) < 2 ** 31):
                x = np.float32(value)
            elif isinstance(value, torch.Tensor) and 0 < value.numel() <= _HELD and not value.is_complex():
                x = value.detach().to("cpu", torch.float32).numpy()
            elif isinstance(value, np.ndarray) and 0 < value.size <= _HELD and value.dtype.kind in "iuf":
                x = value.astype(np.float32)
            else:
                continue
            out.add(hash(np.ascontiguousarray(x).reshape(-1).tobytes()))
        frame = frame.f_back
    return out


def _weights(root: Any) -> tuple[np.ndarray, float | None, int] | None:
    """The factor multiplying the evaluated log-probabilities in the loss (its values), found breadth first, the
    sign with which the loss credits it (+1 when minimising the loss raises log π where the factor is
    high, as −log π·A does), or None when an op on the way has no known sign, and how many log-probabilities
    evaluated one after the other sit side by side in evaluation order in the other factor (`_in_order`)."""
    queue, seen, reached = [(root, 1.0)], {id(root)}, {}
    while queue and len(seen) < _WALK:
        node, sign = queue.pop(0)
        if type(node).__name__ == "MulBackward0":
            for i, (fn, _) in enumerate(node.next_functions):
                below = _reaches(fn, reached) if fn is not None else None
                if below is None:
                    continue
                try:
                    w = node._saved_other if i == 0 else node._saved_self
                except RuntimeError:  # not saved
                    continue
                if isinstance(w, torch.Tensor) and w.is_floating_point() and w.numel() >= _MIN_ROWS:
                    credit = None if sign is None or below[0] is None else -sign * below[0]
                    return w.detach().to("cpu", torch.float64).numpy(), credit, _in_order(fn)
        for (fn, _), step in zip(node.next_functions, _signs(node)):
            if fn is not None and id(fn) not in seen:
                seen.add(id(fn))
                queue.append((fn, None if sign is None or step is None else sign * step))
    return None


def _reaches(start: Any, reached: dict[int, tuple[float | None]]) -> tuple[float | None] | None:
    """(the sign from `start` to) a stamped log-probability within a few nodes, or None when none is there."""
    if id(start) not in reached:
        queue, seen, found = [(start, 1.0)], {id(start)}, None
        while queue and len(seen) <= _SIDE and found is None:
            node, sign = queue.pop(0)
            if STAMP in node.metadata:
                found = (sign,)
            for (fn, _), step in zip(node.next_functions, _signs(node)):
                if fn is not None and id(fn) not in seen:
                    seen.add(id(fn))
                    queue.append((fn, None if sign is None or step is None else sign * step))
        reached[id(start)] = found
    return reached[id(start)]


def _in_order(start: Any) -> int:
    """How many separately evaluated log-probabilities the factor from `start` lays out, when it lays them out in
    the order they were evaluated (stacked as a rollout produced them, step after step, so that a position is a
    step), else 0: read depth first in the inputs' order, through no op that moves values (an index, a flip)."""
    ranks, stack, seen = [], [start], set()
    while stack and len(seen) < _WALK:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if STAMP in node.metadata:
            ranks.append(node.metadata[STAMP])
            continue
        name = type(node).__name__
        if name[:name.find("Backward")] in _REORDERS:
            return 0
        stack += [fn for fn, _ in reversed(node.next_functions) if fn is not None]
    if stack or len(ranks) < 2 or any(b <= a for a, b in zip(ranks, ranks[1:])):
        return 0
    return len(ranks)


# ops through which a value's sign is kept: reductions, sums, views, gathers, increasing functions (PPO's
# exp of a log-ratio, its clip and its min)
_KEEPS = {"Mean", "Sum", "Add", "View", "UnsafeView", "Reshape", "ReshapeAlias", "Squeeze", "Unsqueeze", "Expand",
          "Stack", "Cat", "Index", "Select", "Slice", "Gather", "Clone", "ToCopy", "T", "Permute", "Transpose",
          "Split", "SplitWithSizes", "Unbind", "Exp", "Log", "Clamp", "ClampMin", "ClampMax", "Minimum", "Maximum"}


def _signs(node: Any) -> list[float | None]:
    """Per input of an autograd node, the sign its output has in it (None: not known)."""
    name = type(node).__name__
    op = name[:name.find("Backward")] if "Backward" in name else name
    n = len(node.next_functions)
    if op == "Neg":
        return [-1.0] * n
    if op in _KEEPS:
        return [1.0] * n
    if op == "Sub":
        return [1.0, -_sign_of(getattr(node, "_saved_alpha", 1))][:n]
    if op == "Rsub":
        return [-1.0, 1.0][:n]
    if op in ("Mul", "Div"):
        other = getattr(node, "_saved_other", None)
        return [_sign_of(other) if other is not None else None] + [None] * (n - 1)
    return [None] * n


def _sign_of(x: Any) -> float | None:
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            return None
        x = float(x)
    return float(np.sign(x)) if isinstance(x, (int, float)) and x != 0 else None


def _candidates(frame: FrameType | None, fits: Callable[[int], bool], constant: bool = False
                ) -> list[tuple[str, np.ndarray]]:
    """Sequences of numbers among the variables of the script's frames, from the innermost out, of a size
    that `fits` (also those of one value repeated, when `constant`)."""
    out, seen = [], set()
    while frame is not None:
        for name, value in list(frame.f_locals.items()):
            for key, x in _members(name, value):
                if id(x) in seen:
                    continue
                seen.add(id(x))
                values = _sequence(x, constant) if fits(_size(x)) else None
                if values is not None:
                    out.append((key, values))
        frame = frame.f_back
    return out


def _members(name: str, value: Any) -> list[tuple[str, Any]]:
    """The variable, the items of a small dict, the fields of a Dataset (also a DataLoader's), and the same
    field of each record in a list of records (`episodes[*][2]`: each episode's rewards)."""
    out = [(name, value)]
    if isinstance(value, dict) and len(value) <= _MEMBERS:
        out += [(f"{name}[{k!r}]", v) for k, v in value.items()]
    dataset = getattr(value, "dataset", None) if isinstance(value, DataLoader) else value
    if isinstance(dataset, Dataset) or _record(value):
        where = f"{name}.dataset" if dataset is not value else name
        out += [(f"{where}.{k}", v) for k, v in list(vars(dataset).items())[:_MEMBERS]]
    if isinstance(value, (list, tuple)) and 0 < len(value) <= _MAX_VALUES and isinstance(value[0], (list, tuple)):
        width = len(value[0])
        if 1 < width <= _MEMBERS and all(isinstance(v, (list, tuple)) and len(v) == width for v in value):
            out += [(f"{name}[*][{j}]", [v[j] for v in value]) for j in range(width)]
    return out


def _record(value: Any) -> bool:
    """An object of the script's own classes (a rollout buffer keeping its rewards as fields), not a model's,
    an optimizer's, a tensor's or a library's."""
    kind = type(value)
    return (kind.__module__.partition(".")[0] not in _LIBRARIES and hasattr(value, "__dict__")
            and not isinstance(value, (type, torch.nn.Module, torch.optim.Optimizer)) and not callable(value))


def _buffers(frame: FrameType | None, weights: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Longer sequences among the script's variables that hold every value of the weights: the buffer a minibatch
    of them was drawn from, in the buffer's own order and layout."""
    w = weights.reshape(-1)
    if np.unique(w).size < _MIN_ROWS:
        return []
    return [(name, x) for name, x in _candidates(frame, lambda n: n > w.size)  # compared at the weights' precision
            if np.isin(w.astype(np.float32), x.astype(np.float32)).all()]


def _size(x: Any) -> int:
    """How many values x holds, read without converting it (0 when it is no sequence)."""
    if isinstance(x, torch.Tensor) or (type(x).__module__ == "numpy" and hasattr(x, "size")):
        return int(x.numel() if isinstance(x, torch.Tensor) else x.size)
    if isinstance(x, (list, tuple)) and x:
        first = x[0]
        inner = len(first) if isinstance(first, (list, tuple)) else 1
        return len(x) * (first.numel() if isinstance(first, torch.Tensor) else inner)
    return 0


def _sequence(x: Any, constant: bool = False) -> np.ndarray | None:
    """x's values as a 1-D or 2-D float array when it is a floating tensor or array, or a list of numbers,
    of 0-dim tensors or of equal 1-D ones; else None."""
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point() or x.requires_grad or x.dim() not in (1, 2) or x.is_complex():
            return None
        values = x.detach().to("cpu", torch.float64).numpy()
    elif type(x).__module__ == "numpy" and getattr(x, "dtype", None) is not None and x.dtype.kind == "f":
        values = np.asarray(x, dtype=np.float64)
    elif isinstance(x, (list, tuple)) and 0 < len(x) <= _MAX_VALUES:
        values = _listed(x)
    else:
        return None
    if values is None or values.ndim not in (1, 2) or not _MIN_ROWS <= values.size <= _MAX_VALUES:
        return None
    return values if np.isfinite(values).all() and (constant or np.ptp(values) > 0) else None


def _listed(x: list | tuple) -> np.ndarray | None:
    first = x[0]
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x):
            return np.asarray(x, dtype=np.float64)
        return None
    if isinstance(first, (list, tuple)) and first:  # records of equal length: rows
        rows = [_listed(v) if isinstance(v, (list, tuple)) and len(v) == len(first) else None for v in x]
        return np.stack(rows) if all(v is not None and v.ndim == 1 for v in rows) else None
    if isinstance(first, torch.Tensor) and first.dim() <= 1 and first.is_floating_point():
        if all(isinstance(v, torch.Tensor) and v.shape == first.shape and not v.requires_grad for v in x):
            return torch.stack([v.detach().to("cpu", torch.float64) for v in x]).numpy()
    return None


def _aligned(weights: np.ndarray, rewards: np.ndarray) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """(steps, columns, weights, rewards) as time × columns arrays, for each way the rewards fit the weights."""
    w = weights.reshape(-1)
    if rewards.ndim == 2 and weights.shape == rewards.shape[::-1]:
        w = weights.T  # one time-first, the other batch-first
    elif rewards.size == w.size:
        w = w.reshape(rewards.shape)
    elif rewards.ndim == 1 and rewards.size < w.size:  # (`_candidates` kept these only for 1-D weights)
        w = w[-rewards.size:]  # the latest episode of a flat buffer
    else:
        return []
    if rewards.ndim == 1:
        return [(rewards.size, 1, w[:, None], rewards[:, None])]
    out = []
    for axis in (0, 1):
        wt, rt = np.moveaxis(w, axis, 0), np.moveaxis(rewards, axis, 0)
        if rt.shape[0] >= _MIN_ROWS:
            out.append((rt.shape[0], rt.shape[1], wt, rt))
    return out


def _fits(w: np.ndarray, r: np.ndarray, credit: float | None, ordered: int = 0
          ) -> dict[str, tuple[float, float]] | None:
    """Per construction, the best R² of an affine fit to the weights and its discount; None when the rewards
    are not what the weights accumulate. With the loss's sign known, a fit must credit rewards as the loss
    credits the weights: undiscounted, the past sum is the reward-to-go negated plus the episode's total, told
    apart only by that sign. A discount counts from each step (γ^(k−t)) or from the episode's start (γ^k).
    When the weights' positions are steps (`ordered` covers them), "permuted": the weights are the
    reward-to-go's very values at other steps; when their order is unknown (`ordered` < 0), only the
    constructions told by values (the reward-to-go, the past sum) are fitted."""
    if not np.isfinite(w).all() or np.ptp(w) == 0:
        return None
    if credit is not None:
        w = w * credit
    fits = {f: (-1.0, 0.0) for f in FAMILIES}
    plain = -1.0
    for gamma in _GAMMAS:
        future, past = _discounted(r[::-1], gamma)[::-1], _discounted(r, gamma)
        start = r * gamma ** np.arange(len(r)).reshape(-1, *[1] * (r.ndim - 1))
        made = [("future", future), ("future", np.cumsum(start[::-1], 0)[::-1]), ("past", past),
                ("past", np.cumsum(start, 0)), ("reversed", future[::-1]), ("shifted", np.roll(future, -1, axis=0))]
        for (family, _), c in zip(made, _corr(np.stack([x for _, x in made]), w)):
            r2 = c * c if c > 0 or credit is None else 0.0
            if gamma == 0.0:
                plain = max(plain, c * c)
            elif r2 > fits[family][0]:
                fits[family] = (r2, gamma)
    if ordered >= r.shape[0]:
        fits["permuted"] = _rearranged(w, r, credit)
    if ordered < 0:
        fits.update({f: (-1.0, 0.0) for f in ("reversed", "shifted")})
    if max(v[0] for v in fits.values()) < plain + _ACCUMULATES:
        return None
    return fits


def _rearranged(w: np.ndarray, r: np.ndarray, credit: float | None) -> tuple[float, float]:
    """(1, γ) when, for a discount γ, each column of the weights holds exactly the values of that column's
    reward-to-go up to one affine map, in whatever order; else (0, 0). The discount is searched on the grid,
    then bisected around the best point for the user's own."""
    def fit(gamma: float) -> float:
        x = np.sort(_discounted(r[::-1], gamma)[::-1], 0)
        c = max(float(_pearson(x.reshape(-1), np.sort(s * w, 0).reshape(-1)))
                for s in ((1.0,) if credit else (1.0, -1.0)))
        return c * abs(c)
    grid = [(fit(g), i) for i, g in enumerate(_GAMMAS) if g > 0]
    _, i = max(grid)
    lo, hi = _GAMMAS[max(i - 1, 1)], _GAMMAS[min(i + 1, len(_GAMMAS) - 1)]
    for _ in range(_REFINE):
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        lo, hi = (lo, b) if fit(a) >= fit(b) else (a, hi)
    gamma = (lo + hi) / 2
    distinct = len(np.unique(np.round(_discounted(r[::-1], gamma), 9)))
    return (1.0, round(gamma, 3)) if fit(gamma) >= 1 - _EXACT and distinct >= _DISTINCT else (0.0, 0.0)


def _discounted(r: np.ndarray, gamma: float) -> np.ndarray:
    out, acc = np.empty_like(r), np.zeros(r.shape[1:])
    for t in range(r.shape[0]):
        acc = r[t] + gamma * acc
        out[t] = acc
    return out


def _corr(xs: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The correlation of each x in `xs` with w over all entries; with many columns, also with each step's mean
    over the columns removed (a per-step baseline), whichever is larger in size."""
    best = _pearson(xs.reshape(len(xs), -1), w.reshape(-1))
    if w.shape[1] >= _COLUMNS_CENTRED:
        centred = _pearson((xs - xs.mean(2, keepdims=True)).reshape(len(xs), -1),
                           (w - w.mean(1, keepdims=True)).reshape(-1))
        best = np.where(np.abs(centred) > np.abs(best), centred, best)
    return best


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The correlation of each row of a with b (a 1-D a: one number)."""
    a, b = a - a.mean(-1, keepdims=True), b - b.mean()
    den = np.sqrt((a * a).sum(-1) * (b * b).sum())
    return np.where(den > 1e-12, (a * b).sum(-1) / np.maximum(den, 1e-300), 0.0)
