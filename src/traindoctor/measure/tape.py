"""The loss head on tape: the torch operations a training step applies to a model's outputs up to the
scalar given to backward(), recorded at sampled steps so that experiments can compute the same loss on
a copy's outputs (diagnosis/experiments.py) — whether the script calls a torch loss function or writes
the loss by hand (a policy gradient, a VAE's KL, a penalty on the weights).

A TorchFunctionMode is entered when a sampled training call of a model returns and left at the
backward() that follows. Each torch call with an argument derived from the model's outputs is kept as
(function, arguments): derived tensors as slots, the model's own parameters by name (a penalty on the
weights is part of the loss), every other tensor (targets, returns, masks, a frozen discriminator's
weights) as a detached clone taken when the call ran. A call made under no_grad (a policy's draw inside
`sample()`) is replayed under no_grad: what the script kept out of the gradient stays out of it. Every call
runs as the script made it (the mode is off inside its handler); the mode only reads. The handler makes each call from a one-line trampoline
compiled at the script's own file and line, with the script's module globals: a warning the call raises
is shown — or not, if already shown there — exactly as without the mode (catching and re-issuing would
reset every module's record of warnings already shown).
"""

from __future__ import annotations

import inspect
import itertools
import os
import sys
import weakref
from dataclasses import dataclass
from functools import cached_property
from types import CodeType, FunctionType
from typing import Any, Callable, Collection, Iterator, NamedTuple

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_unflatten

from . import term_grads
from .losses import BINARY, CLASSIFICATION, LOSS_FUNCTIONS, chance_level

MAX_OPS = 5000  # a longer head (a loop over a long sequence) is not recorded
MAX_CONST_BYTES = 64 * 2**20  # the clones of the other tensors it reads


class Slot(NamedTuple):
    index: int  # a tensor derived from the model's outputs


class Param(NamedTuple):
    name: str  # one of the model's parameters, read on the copy by name


class Const(NamedTuple):
    value: torch.Tensor  # any other tensor, as it was when the call ran
    # The shape it was reshaped from (targets (T, B) flattened for a loss, as a view or a copy): which entries
    # belong to which sample is a fact of that layout, kept for the checks that ask.
    base_shape: tuple[int, ...] | None = None
    # A trainable leaf outside the model when recorded (a decoder or a head kept apart from it): a layer the
    # step trains, though the tape holds it as a value.
    weight: bool = False


@dataclass
class Op:
    func: Callable
    spec: Any  # the (args, kwargs) structure
    leaves: list[Any]  # Slot, Param, Const or a plain value
    outs: list[int | None]  # the slot of each tensor leaf of the result (an in-place call: of its first argument)
    inplace: bool
    shapes: list[tuple[int, ...] | None]  # the shape of each result leaf when recorded
    where: tuple[str, int] | None = None  # the script's file and line that made the call
    grad: bool = True  # made with gradients enabled: one made under no_grad is replayed under no_grad


@dataclass
class Tape:
    """`loss_of(output, params)` recomputes the step's loss from a model output of the same structure."""
    inputs: list[int | None]  # the slot of each leaf of the model's output
    ops: list[Op]
    loss: int
    batch: tuple[tuple, dict]  # the model call's (args, kwargs), cloned
    step: int  # the optimizer step it was recorded at
    weights_only: frozenset[int]  # slots computed from the weights alone (a penalty), not from the outputs
    # The model was called more than once for this loss (siamese pairs, two views, a data and a penalty call):
    # only the last call's outputs are slots, the others' are held as constants, so the tape is not the whole
    # loss as a function of the batch.
    partial: bool = False
    # When some terms of the loss are not on tape (held as constants, though computed from the weights): the
    # terms measured on the step's live graph (measure/term_grads.py), with "weights", "tasks" (those that
    # read a target) and "off_tape" (those whose reads were not seen); None otherwise.
    live_sample: dict[str, Any] | None = None

    @property
    def penalized(self) -> bool:
        """The loss holds a penalty: a term computed from the weights alone (L2 written into the loss), or one
        computed from the outputs that reads no target beside a term that does (see `penalties`)."""
        return bool(self.penalty_slots)

    def penalties(self) -> list[Term]:
        """The terms a regulariser adds to the task: those computed from the weights alone, and, when some term
        reads a target, those computed from the outputs that read none (a sparsity or smoothness penalty on
        activations, a VAE's KL, a penalty on the outputs' size). Without a targeted term there is no task to
        tell them from: none of the outputs' terms is a penalty then."""
        terms = self.terms()
        task = any(t.targeted for t in terms)
        return [t for t in terms if t.weights_only or (task and not t.targeted)]

    @cached_property
    def penalty_slots(self) -> frozenset[int]:
        """The slots zeroed to turn the regularisation off: every slot computed from the weights alone, and the
        term slot of each penalty computed from the outputs."""
        return self.weights_only | {t.slot for t in self.penalties()}

    def loss_of(self, output: Any, params: dict[str, torch.Tensor] | None = None, *,
                data_only: bool = False, constants: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
        """The loss for `output`; `params`: the copy's parameters by name. `data_only`: every penalty (a term
        computed from the weights alone, or one that reads no target beside the task) counts as zero, and the
        targets are not smoothed (the regularisation off). `constants`: recorded tensors replaced,
        by the id of the recorded value (an experiment that changes a target)."""
        out = self.values_of(output, params, data_only=data_only, constants=constants).get(self.loss)
        if not isinstance(out, torch.Tensor):
            raise ValueError("the recorded loss does not depend on the model's output")
        return out

    def values_of(self, output: Any, params: dict[str, torch.Tensor] | None = None, *, data_only: bool = False,
                  constants: dict[int, torch.Tensor] | None = None, held: dict[int, Any] | None = None,
                  tolerant: bool = False, before: Callable[[Op], None] | None = None,
                  as_recorded: bool = True) -> dict[int, Any]:
        """Every slot's value for `output` (the loss's and its terms'); arguments as for `loss_of`. `held`:
        slots whose values are given, not recomputed (what an experiment keeps as it was). `tolerant`: a call
        that fails on this output (targets of the recorded batch size) leaves its slots, and those computed
        from them, without a value, instead of raising. `before`: called with each call about to be made.
        `as_recorded`: a call made under no_grad is replayed so; False replays it with gradients, for a search
        of where the gradient stops (a draw then carries its zero derivative to what reads it)."""
        values: dict[int, Any] = {}
        leaves, _ = tree_flatten(output)
        for slot, leaf in zip(self.inputs, leaves):
            if slot is not None:
                values[slot] = leaf
        params = params or {}
        for op in self.ops:
            if before is not None:
                before(op)
            try:
                args, kwargs = tree_unflatten([_value(x, values, params, op.inplace and i == 0, constants)
                                               for i, x in enumerate(op.leaves)], op.spec)
                if data_only and kwargs.get("label_smoothing"):  # smoothing is regularisation: the data term has none
                    kwargs = {**kwargs, "label_smoothing": 0.0}
                with torch.set_grad_enabled((op.grad or not as_recorded) and torch.is_grad_enabled()):
                    result = op.func(*args, **kwargs)
            except Exception:
                if not tolerant:
                    raise
                continue
            results = [args[0]] if op.inplace else tree_flatten(result)[0]
            for slot, leaf in zip(op.outs, results):
                if slot is not None:
                    off = data_only and slot in self.penalty_slots and isinstance(leaf, torch.Tensor)
                    values[slot] = leaf.detach() * 0 if off else leaf
                    if held and slot in held:
                        values[slot] = held[slot]
        return values

    def constants(self) -> list[torch.Tensor]:
        """The recorded values (Const) the loss head's calls take, as `values_of` passes them."""
        return [x.value for op in self.ops for x in op.leaves if isinstance(x, Const)]

    def outside_weights(self) -> frozenset[int]:
        """The ids of the recorded values that were trainable leaves outside the model (Const.weight), as
        `values_of` passes them to the calls it makes."""
        return frozenset(id(x.value) for op in self.ops for x in op.leaves if isinstance(x, Const) and x.weight)

    def targets(self, functions: frozenset[str] | set[str]) -> list[tuple[str, torch.Tensor]]:
        """The recorded `target` of each call of one of `functions` (torch loss functions by name), once each:
        (function, the value as recorded)."""
        return [(name, const.value) for name, const in self.target_consts(functions)]

    def loss_calls(self, functions: frozenset[str] | set[str]) -> Iterator[tuple[str, Any, Any]]:
        """(function, its recorded input, its recorded target) of each call of one of `functions`."""
        for op in self.ops:
            name = getattr(op.func, "__name__", "")
            if name in functions:
                args, kwargs = tree_unflatten(op.leaves, op.spec)
                yield (name, kwargs.get("input", args[0] if args else None),
                       kwargs.get("target", args[1] if len(args) > 1 else None))

    def target_consts(self, functions: frozenset[str] | set[str]) -> list[tuple[str, Const]]:
        """As `targets`, with the layout each was reshaped from (Const.base_shape)."""
        out, seen = [], set()
        for name, _, target in self.loss_calls(functions):
            if isinstance(target, Const) and id(target.value) not in seen:
                seen.add(id(target.value))
                out.append((name, target))
        return out

    def entrywise_consts(self) -> list[tuple[str, Const]]:
        """The recorded tensors combined entry by entry with a value derived from the outputs, once each: an
        argument of a call on such a value whose result has the tensor's shape (`pred - y`, `logp.gather(1, y)`,
        `loss * mask`), as (function, Const). A tensor broadcast against the outputs (class weights) is not."""
        out, seen = [], set()
        for op in self.ops:
            args, kwargs = tree_unflatten(op.leaves, op.spec)
            leaves = [*args, *kwargs.values()]
            if not op.shapes or not any(isinstance(a, Slot) and a.index not in self.weights_only for a in leaves):
                continue
            for a in leaves:
                if isinstance(a, Const) and tuple(a.value.shape) == op.shapes[0] and id(a.value) not in seen:
                    seen.add(id(a.value))
                    out.append((getattr(op.func, "__name__", ""), a))
        return out

    def compared_target(self) -> torch.Tensor | None:
        """What a loss written by hand compares the outputs with: the one tensor subtracted from (or taken from)
        a value derived from the outputs, with that value's shape — `((pred - y) ** 2).mean()`. None when the
        head has no such difference, or several (the target is then not one tensor)."""
        found: dict[int, torch.Tensor] = {}
        for op in self.ops:
            name = getattr(op.func, "__name__", "")
            if name not in _SUB and name not in ("rsub", "__rsub__"):
                continue
            args, kwargs = tree_unflatten(op.leaves, op.spec)
            consts = [a for a in args if isinstance(a, Const)]
            slots = [a for a in args if isinstance(a, Slot) and a.index not in self.weights_only]
            if (not kwargs and len(args) == 2 and len(consts) == 1 and len(slots) == 1 and op.shapes
                    and tuple(consts[0].value.shape) == op.shapes[0]):
                found[id(consts[0].value)] = consts[0].value
        return next(iter(found.values())) if len(found) == 1 else None

    def reduction(self, slot: int) -> str | None:
        """How the call that made `slot` reduced its elements: 'mean' or 'sum' for `.mean()`, `.sum()` and torch's
        loss functions (their `reduction`, 'mean' by default); None for any other call."""
        op = next((op for op in self.ops if slot in op.outs), None)
        name = getattr(op.func, "__name__", "") if op is not None else ""
        if name in ("mean", "sum"):
            return name
        if name in LOSS_FUNCTIONS:
            return tree_unflatten(op.leaves, op.spec)[1].get("reduction", "mean")
        return None

    def terms(self) -> list[Term]:
        """The additive terms of the loss: `a + 0.1 * b - c` gives a (weight 1), b (0.1) and c (-1). Sums,
        differences and products or quotients by a number are looked through; anything else is a term."""
        producer = self._producer
        found: dict[int, Term] = {}

        def split(slot: int, weight: float) -> None:
            op = producer.get(slot)
            parts = _additive(op) if op is not None else None
            if parts is None:
                old = found.get(slot)
                found[slot] = Term(slot, weight + (old.weight if old else 0.0), self._name(slot),
                                   slot in self.weights_only, self.targeted(slot))
                return
            for part, factor in parts:
                split(part.index, weight * factor)

        split(self.loss, 1.0)
        return list(found.values())

    @cached_property
    def _producer(self) -> dict[int, Op]:
        return {o: op for op in self.ops for o in op.outs if o is not None}

    def _name(self, slot: int) -> str:
        op = self._producer.get(slot)
        return getattr(op.func, "__name__", "") if op is not None else "output"

    def uninformed(self, slot: int, values: dict[int, Any]) -> float | None:
        """The loss of an uninformed model for the term at `slot`, when one torch loss function computed it (ln C,
        ln 2, the target's variance: measure/losses.py `chance_level`), its arguments read from the slots'
        `values`; None otherwise. A cross-entropy against soft targets (a teacher's probabilities, pixel
        intensities) has the targets' own entropy as its floor, not ln C or ln 2: no level then."""
        op = self._producer.get(slot)
        name = getattr(op.func, "__name__", "") if op is not None else ""
        if name not in LOSS_FUNCTIONS:
            return None
        try:
            args, kwargs = tree_unflatten([_value(x, values, {}, False, None) for x in op.leaves], op.spec)
            bound = inspect.signature(op.func).bind(*args, **kwargs).arguments
            target = bound.get("target")
            labels = isinstance(target, torch.Tensor) and (
                not target.is_floating_point() if name in CLASSIFICATION else not ((target != 0) & (target != 1)).any())
            if name in CLASSIFICATION + BINARY and not labels:
                return None
            level = chance_level(name, bound)
        except (KeyError, TypeError, ValueError, RuntimeError):  # an argument not at hand, a signature not readable
            return None
        return level["chance"] if level else None

    def targeted(self, slot: int) -> bool:
        """Whether the slot's computation reads a tensor from outside the model (a target, a mask)."""
        stack, seen = [slot], set()
        while stack:
            s = stack.pop()
            if s in seen or (op := self._producer.get(s)) is None:
                continue
            seen.add(s)
            if any(isinstance(x, Const) and x.value.dim() > 0 for x in op.leaves):
                return True
            stack.extend(x.index for x in op.leaves if isinstance(x, Slot))
        return False

    def live_terms(self, live: dict[int, torch.Tensor], tensors: dict[int, torch.Tensor]
                   ) -> dict[str, tuple[torch.Tensor, float, bool | None, float | None]] | None:
        """The additive terms of the loss as live tensors, with the factor each enters it with, whether it
        reads a target (None for a term off tape: what it reads was not seen) and its uninformed level
        (`uninformed`, None when unknown), when some of them are
        not on tape: computed from the weights by a route the tape holds as a constant (an earlier call of the
        model, a derivative of its outputs taken with autograd.grad). `live`: those constants' live tensors, by
        the id of the tape's copy; `tensors`: the slots' live tensors. None when every term is on tape (the
        replayed terms say all) or the terms cannot be read."""
        found: dict[str, tuple[torch.Tensor, float, bool | None, float | None]] = {}
        off_tape = False

        def add(name: str, tensor: torch.Tensor, weight: float, targeted: bool | None,
                level: float | None = None) -> None:
            key = name if name not in found else next(f"{name}#{k}" for k in itertools.count(2)
                                                      if f"{name}#{k}" not in found)
            found[key] = (tensor, weight, targeted, level)

        def split(leaf: Slot | Const, weight: float) -> None:
            nonlocal off_tape
            if isinstance(leaf, Const):
                off_tape = True
                add(_grad_name(live[id(leaf.value)]), live[id(leaf.value)], weight, None)
                return
            op = self._producer.get(leaf.index)
            parts = _additive(op, live) if op is not None else None
            if parts is None:
                if leaf.index not in tensors or leaf.index in self.weights_only:
                    return  # a penalty on the weights alone is not judged
                add(self._name(leaf.index), tensors[leaf.index], weight, self.targeted(leaf.index),
                    self.uninformed(leaf.index, tensors))
                return
            for part, factor in parts:
                split(part, weight * factor)

        split(Slot(self.loss), 1.0)
        return found if off_tape and len(found) >= 2 else None


def _value(x: Any, values: dict[int, Any], params: dict[str, torch.Tensor], clone: bool,
           constants: dict[int, torch.Tensor] | None) -> Any:
    if isinstance(x, Slot):
        return values[x.index]
    if isinstance(x, Param):
        return params[x.name]
    if isinstance(x, Const):
        value = constants.get(id(x.value), x.value) if constants else x.value
        return value.clone() if clone else value  # an in-place call must not change the tape
    return x


class Term(NamedTuple):
    slot: int
    weight: float  # the constant factor, with its sign, the term enters the loss with
    name: str  # the torch call that computed it
    weights_only: bool  # computed from the weights alone (a penalty), not from the outputs
    targeted: bool = False  # reads a tensor from outside the model (a target): the task, not a penalty


_ADD = {"add", "add_", "__add__", "__radd__", "__iadd__"}
_SUB = {"sub", "sub_", "__sub__", "__isub__"}
_SCALE = {"mul", "mul_", "__mul__", "__rmul__", "__imul__", "div", "div_", "__truediv__", "__itruediv__"}


def _additive(op: Op, live: Collection[int] = ()) -> list[tuple[Slot | Const, float]] | None:
    """The parts an op sums (each with its factor): slots, and the constants whose ids are in `live` (computed
    from the weights off the tape); None when the op is not a sum, a difference, a negation or a scaling by a
    number of those."""
    name = getattr(op.func, "__name__", "")
    args, kwargs = tree_unflatten(op.leaves, op.spec)

    def part(a: Any) -> bool:
        return isinstance(a, Slot) or (isinstance(a, Const) and id(a.value) in live)
    if kwargs or not args or any(isinstance(a, (Const, Param)) and not part(a) for a in args):
        return None
    slots = [a for a in args if part(a)]
    numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
    if len(slots) + len(numbers) != len(args) or not slots:
        return None
    if name in ("neg", "__neg__") and len(args) == 1:
        return [(args[0], -1.0)]
    if len(args) != 2:
        return None
    if name in _ADD:
        return [(s, 1.0) for s in slots]
    if name in _SUB or name == "rsub":
        first = 1.0 if name in _SUB else -1.0
        return [(a, first if i == 0 else -first) for i, a in enumerate(args) if part(a)]
    if name in _SCALE and len(slots) == 1 and part(args[0]) and numbers and numbers[0] != 0:
        factor = float(numbers[0])
        return [(slots[0], factor if "mul" in name else 1.0 / factor)]
    return None


def _grad_name(t: torch.Tensor) -> str:
    """A live tensor's name by the call that made it, as its autograd node says (`MeanBackward0`: mean)."""
    name = type(t.grad_fn).__name__ if t.grad_fn is not None else "tensor"
    return name.split("Backward")[0].lower() or "tensor"


class _Recording(TorchFunctionMode):
    """Records the calls that read the model's outputs or weights; see the module's docstring."""

    def __init__(self, output: Any, params: dict[int, tuple[str, torch.Tensor]]):
        super().__init__()
        self.slots: dict[int, tuple[torch.Tensor, int]] = {}  # id -> (the tensor, kept alive while recording; slot)
        self.params = params
        self.ops: list[Op] = []
        self.count = -1
        self.weights_only: set[int] = set()
        self.live: dict[int, torch.Tensor] = {}  # id of a constant's copy -> the live tensor, when it has a graph
        self.const_bytes = 0
        self.broken = False
        self.handling = 0  # inside a call made from the handler (the mode is off the stack there)
        # id -> (the result, the shape read) of each reshape of other data seen while recording: a flat copy
        # (`y[:, 1:].flatten()`) keeps no trace of the layout its entries were read in, the call does.
        self.reshaped: dict[int, tuple[weakref.ref, tuple[int, ...]]] = {}
        leaves, _ = tree_flatten(output)
        self.inputs = [self._new(t) if isinstance(t, torch.Tensor) else None for t in leaves]

    def _new(self, t: torch.Tensor) -> int:
        self.count += 1
        self.slots[id(t)] = (t, self.count)
        return self.count

    def slot_of(self, t: Any) -> int | None:
        if not isinstance(t, torch.Tensor):
            return None
        hit = self.slots.get(id(t))
        return hit[1] if hit is not None and hit[0] is t else None

    def param_of(self, t: Any) -> str | None:
        hit = self.params.get(id(t)) if isinstance(t, torch.Tensor) else None
        return hit[0] if hit is not None and hit[1] is t else None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        frame = script_frame(sys._getframe(1))
        self.handling += 1
        try:
            result = trampoline(frame)(func, args, kwargs)
        finally:
            self.handling -= 1
        if not self.broken:
            try:
                self._record(func, args, kwargs, result, (frame.f_code.co_filename, frame.f_lineno))
            except Exception:  # something this tape cannot hold: no tape, the script unaffected
                self.broken = True
        return result

    def _record(self, func: Callable, args: tuple, kwargs: dict, result: Any, where: tuple[str, int]) -> None:
        leaves, spec = tree_flatten((args, kwargs))
        slots = [self.slot_of(x) for x in leaves]
        names = [self.param_of(x) for x in leaves]
        if all(s is None for s in slots) and all(n is None for n in names):
            self._note_reshape(func, args, result)
            return
        name = getattr(func, "__name__", "")
        inplace = (name.endswith("_") and not name.endswith("__")) or name in _INPLACE
        converted: list[Any] = []
        for x, slot, pname in zip(leaves, slots, names):
            if slot is not None:
                converted.append(Slot(slot))
            elif pname is not None:
                converted.append(Param(pname))
            elif isinstance(x, torch.Tensor):
                self.const_bytes += x.numel() * x.element_size()
                if self.const_bytes > MAX_CONST_BYTES:
                    raise MemoryError("the loss head reads too much other data to keep")
                clone = x.detach().clone()
                if x.grad_fn is not None:  # computed from weights by a route off this tape: a term, if summed
                    self.live[id(clone)] = x
                converted.append(Const(clone, self.layout_of(x), x.is_leaf and x.requires_grad))
            else:
                converted.append(x)
        results = [args[0]] if inplace and args and isinstance(args[0], torch.Tensor) else tree_flatten(result)[0]
        outs: list[int | None] = [self._new(t) if isinstance(t, torch.Tensor) else None for t in results]
        if all(o is None for o in outs):
            return  # a number or a shape read from a tensor: nothing later reads it as a tensor
        shapes = [tuple(t.shape) if isinstance(t, torch.Tensor) else None for t in results]
        from_outputs = any(s is not None and s not in self.weights_only for s in slots)
        if not from_outputs:
            self.weights_only.update(o for o in outs if o is not None)
        self.ops.append(Op(func, spec, converted, outs, inplace, shapes, where, torch.is_grad_enabled()))
        if len(self.ops) > MAX_OPS:
            raise OverflowError("the loss head is too long to record")

    def _note_reshape(self, func: Callable, args: tuple, result: Any) -> None:
        source = args[0] if args else None
        if (getattr(func, "__name__", "") in _RESHAPES and len(self.reshaped) < MAX_OPS
                and isinstance(source, torch.Tensor) and isinstance(result, torch.Tensor)
                and result.shape != source.shape):
            self.reshaped[id(result)] = (weakref.ref(result), tuple(source.shape))

    def layout_of(self, x: torch.Tensor) -> tuple[int, ...] | None:
        """The shape x was reshaped from: seen in the head (view or copy), else that of the whole tensor x is a
        view of."""
        seen = self.reshaped.get(id(x))
        if seen is not None and seen[0]() is x:
            return seen[1]
        return _reshaped_from(x)


def script_frame(frame: Any) -> Any:
    """The innermost frame outside torch and traindoctor: the script's line that made the call."""
    while frame.f_back is not None and frame.f_code.co_filename.startswith((_TORCH_DIR, _OWN_DIR)):
        frame = frame.f_back
    return frame


def trampoline(frame: Any) -> Callable[[Callable, tuple, dict], Any]:
    """`f(*a, **k)` made from the script's file, line and module globals: the frame warnings are attributed to
    (C++ warnings take the calling frame; torch's Python ones walk up to it)."""
    key = (frame.f_code.co_filename, frame.f_lineno, id(frame.f_globals))
    made = _TRAMPOLINES.get(key)
    if made is None or made.__globals__ is not frame.f_globals:
        source = "\n" * max(frame.f_lineno - 1, 0) + "def _call(f, a, k): return f(*a, **k)\n"
        code = next(c for c in compile(source, frame.f_code.co_filename, "exec").co_consts if isinstance(c, CodeType))
        made = _TRAMPOLINES[key] = FunctionType(code, frame.f_globals)
        if len(_TRAMPOLINES) > 256:
            _TRAMPOLINES.pop(next(iter(_TRAMPOLINES)))
    return made


_TRAMPOLINES: dict[tuple[str, int, int], FunctionType] = {}
_TORCH_DIR = os.path.dirname(torch.__file__)
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_RESHAPES = frozenset({"view", "reshape", "flatten", "ravel", "view_as", "reshape_as"})  # row-major order kept
_INPLACE = ("__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__")


MAX_BATCH_BYTES = 256 * 2**20  # a larger batch is not cloned for a tape


class TapeRecorder:
    """One recording at a time per thread: started when a sampled training call returns, ended by the
    backward() that follows (a tape when its loss derives from the outputs) or abandoned.

    `loss.backward()` reaches torch.autograd.backward from inside the mode's handler, where the mode is
    off the stack and cannot be left: it is left at the next event the recorder sees (`settle`)."""

    def __init__(self) -> None:
        self.active: _Recording | None = None
        self.closing: list[_Recording] = []
        self.batch: tuple[tuple, dict] | None = None
        self.step = 0
        self.model = 0  # id of the model whose outputs are being followed
        self.partial = False  # that model was called before in the same loss

    def start(self, module: torch.nn.Module, output: Any, args: tuple, kwargs: dict, step: int,
              partial: bool = False) -> None:
        self.settle()
        # Already following another model's head (a GAN's generator feeding the discriminator), or a mode
        # not left yet: never stack another above it.
        if self.active is not None or self.closing:
            return
        leaves = [x for x in tree_flatten((args, kwargs))[0] if isinstance(x, torch.Tensor)]
        if sum(t.numel() * t.element_size() for t in leaves) > MAX_BATCH_BYTES:
            return
        self.active = _Recording(output, {id(p): (n, p) for n, p in module.named_parameters()})
        self.batch, self.step, self.model, self.partial = cloned_batch(args, kwargs), step, id(module), partial
        self.active.__enter__()

    def finish(self, loss: torch.Tensor) -> Tape | None:
        """The tape whose loss is `loss`, if it was recorded from a model's outputs."""
        rec = self.active
        if rec is None:
            return None
        slot, broken, live = rec.slot_of(loss), rec.broken, dict(rec.live)
        tensors = {s: t for t, s in rec.slots.values()} if live else {}
        self.abandon()
        if broken or slot is None or self.batch is None:
            return None
        ops = _needed(rec.ops, slot)
        weights_only = frozenset(s for op in ops for s in op.outs if s in rec.weights_only)
        tape = Tape(rec.inputs, ops, slot, self.batch, self.step, weights_only, self.partial)
        if live:
            tape.live_sample = _live_sample(tape, live, tensors, [p for _, p in rec.params.values() if p.requires_grad])
        return tape

    def abandon(self) -> None:
        if self.active is not None:
            rec, self.active = self.active, None
            rec.broken = True  # records nothing more
            rec.slots.clear()
            rec.live.clear()
            self.closing.append(rec)
        self.settle()

    def settle(self) -> None:
        """Leave the modes that are done, when this thread is not inside one's handler."""
        while self.closing and not self.closing[-1].handling and on_top(self.closing[-1]):
            self.closing.pop().__exit__(None, None, None)


def on_top(mode: TorchFunctionMode) -> bool:
    """Leaving a mode pops the top of the stack, whichever it is: only ours may be popped (one entered above
    it, the script's or ours, is left first)."""
    depth = torch._C._len_torch_function_stack()
    return depth > 0 and torch._C._get_function_stack_at(depth - 1) is mode


def _live_sample(tape: Tape, live: dict[int, torch.Tensor], tensors: dict[int, torch.Tensor],
                 params: list[torch.Tensor]) -> dict[str, Any] | None:
    """The live terms' gradients on the model's parameters at this step (measure/term_grads.py); None when every
    term is on tape, or this cannot be measured (the script's step is never affected)."""
    try:
        terms = tape.live_terms(live, tensors)
        if terms is None:
            return None
        with torch.enable_grad():
            sample = term_grads.measure({n: t * w for n, (t, w, _, _) in terms.items()}, params, f"step {tape.step}")
    except Exception:  # a graph this cannot differentiate twice: no sample
        return None
    if sample is not None:
        sample["weights"] = {n: w for n, (_, w, _, _) in terms.items()}
        sample["tasks"] = [n for n, (_, _, targeted, _) in terms.items() if targeted]
        sample["off_tape"] = [n for n, (_, _, targeted, _) in terms.items() if targeted is None]
        sample["uninformed"] = {n: level * w for n, (_, w, _, level) in terms.items()
                                if level is not None and n in sample["values"]}
    return sample


def _needed(ops: list[Op], loss: int) -> list[Op]:
    """The ops the loss depends on (a metric computed from the outputs on the way is left out)."""
    needed, kept = {loss}, []
    for op in reversed(ops):
        if any(o in needed for o in op.outs if o is not None):
            kept.append(op)
            needed.update(x.index for x in op.leaves if isinstance(x, Slot))
    return kept[::-1]


def initial_state(module: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    """The model's state before its first update (its first training call has just returned): the start an
    experiment needs when every batch the run recorded was trained on. None above MAX_BATCH_BYTES."""
    state = module.state_dict()
    if sum(t.numel() * t.element_size() for t in state.values() if isinstance(t, torch.Tensor)) > MAX_BATCH_BYTES:
        return None
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def cloned_batch(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """A model call's arguments, cloned: a script that refills its batch buffers in place must not change
    the recorded batch, and an experiment's forward must not change the tape's."""
    leaves, spec = tree_flatten((args, kwargs))
    return tree_unflatten([x.detach().clone() if isinstance(x, torch.Tensor) else x for x in leaves], spec)


def _reshaped_from(x: torch.Tensor) -> tuple[int, ...] | None:
    """The shape of the tensor x is a reshaped view of, when x holds all of it in its memory order."""
    base = x._base
    if (base is None or base.shape == x.shape or not base.is_contiguous() or not x.is_contiguous()
            or x.numel() != base.numel() or x.storage_offset() != base.storage_offset()):
        return None
    return tuple(base.shape)
