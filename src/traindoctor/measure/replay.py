"""Replay a batch on a copy of the model to name the first module, and the first torch function, that
produce NaN/Inf."""

from __future__ import annotations

import math
import os
import sys
import weakref
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from .copies import independent_copy
from .stats import tensors_in
from .streams import preserved_streams

if TYPE_CHECKING:
    from .tape import Op, Tape

MAX_ARGUMENTS = 3  # described per function
_COPIES = frozenset({"to", "float", "double", "half", "bfloat16", "type", "type_as", "clone", "contiguous", "detach"})


def _finite(obj: Any) -> bool:
    return all(torch.isfinite(t).all() for _, t in tensors_in(obj) if t.is_floating_point())


def first_nonfinite_module(module: nn.Module, args: tuple, kwargs: dict, tape: Tape | None = None) -> dict[str, Any]:
    """Run the batch through an independent copy (measure/copies.py) with forward hooks; the user's model
    is untouched. With the step's loss head on `tape`, it is computed from the copy's output too.

    Hooks fire after each module returns (innermost first), so the first module whose
    inputs are finite and outputs are not is where the non-finite value is born; `function` (FirstNonfinite)
    names the call inside it, or inside the loss, that made it.
    """
    try:
        replica = independent_copy(module)
    except Exception as exc:  # e.g. modules holding locks or file handles
        return {"skipped": f"could not copy the model for replay ({type(exc).__name__}: {exc})"}
    found: dict[str, Any] = {}
    names = {m: n for n, m in replica.named_modules()}
    watch = FirstNonfinite()

    def hook(m: nn.Module, inputs: tuple, output: Any) -> None:
        if not found and _finite(inputs) and not _finite(output):
            found.update(module=names[m] or "<model>", type=type(m).__name__)

    handles = watch.follow_modules(replica) + [m.register_forward_hook(hook) for m in replica.modules()]
    try:
        with preserved_streams(), torch.no_grad(), watch:
            out = replica(*args, **kwargs)
            if watch.found is None and tape is not None:
                watch.running.clear()  # the loss head runs outside every module
                tape.values_of(out, dict(replica.named_parameters()), tolerant=True, before=watch.follow)
    except Exception as exc:
        return {"skipped": f"replay failed ({type(exc).__name__}: {exc})"}
    finally:
        for h in handles:
            h.remove()
    function = {"function": watch.found} if watch.found else {}
    if found:
        return found | function
    return {"module": None, "output_finite": _finite(out)} | function


class FirstNonfinite(TorchFunctionMode):
    """Notes the first torch call whose floating arguments are all finite and whose result is not: where a
    NaN/Inf is born (an exp past its overflow, a log or a division at 0), with the range of its arguments,
    the module running it and the script's line. With `nodes`, also which call made each autograd node, so
    that a gradient born in the backward is named by the forward call it differentiates."""

    def __init__(self, nodes: bool = False) -> None:
        super().__init__()
        self.found: dict[str, Any] | None = None
        self.running: list[str] = []  # the modules entered and not yet returned, innermost last
        self.where: tuple[str, int] | None = None  # the line of a call replayed from a tape
        self.nodes: dict[Any, dict[str, Any]] | None = {} if nodes else None  # node -> the call that made it
        self.made_by: dict[int, tuple[weakref.ref, str]] = {}  # id of a result -> the function that computed it

    def follow(self, op: Op) -> None:
        self.where = op.where

    def follow_modules(self, model: nn.Module) -> list[Any]:
        """Hooks keeping `running` (removed by the caller)."""
        names = {m: n or "<model>" for n, m in model.named_modules()}

        def enter(m: nn.Module, inputs: tuple) -> None:
            self.running.append(names[m])

        def leave(m: nn.Module, inputs: tuple, output: Any) -> None:
            self.running.pop()

        return [h for m in model.modules() for h in (m.register_forward_pre_hook(enter), m.register_forward_hook(leave))]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        leaves = tree_flatten((args, kwargs))[0]
        inputs = [t for t in leaves if isinstance(t, torch.Tensor) and t.is_floating_point()]
        # Read before the call: an in-place call overwrites its first argument. A number given as an argument
        # counts too: masked_fill(mask, -inf) passes its -inf on, makes none.
        tensors_finite = _finite(inputs)
        finite = tensors_finite and all(math.isfinite(x) for x in leaves if isinstance(x, float))
        if self.found is None:
            described = [_range(t) | self._producer(t) for t in inputs[:MAX_ARGUMENTS]]
        result = func(*args, **kwargs)
        outputs = [t for t in tree_flatten(result)[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]
        raw = getattr(func, "__name__", str(func))
        name = raw.strip("_")
        if self.found is None:  # an operator (`1 - p`) is no function to name as a producer
            self._note(None if raw.startswith("__") else name, inputs, outputs)
        if self.nodes is not None:
            for t in outputs:
                if t.grad_fn is not None and t.grad_fn not in self.nodes:
                    self.nodes[t.grad_fn] = {**self._call(name), "inputs": inputs[:MAX_ARGUMENTS]}
        if self.found is None and inputs and finite and outputs and not _finite(outputs):
            self.found = {**self._call(name), "arguments": described, **_made(outputs[0])}
        elif self.found is not None and not tensors_finite and outputs and _finite(outputs):
            # Taken back to finite values (a softmax over a -inf mask, a log of a 0/1 mask added to scores):
            # made on purpose, it is not where the NaN that reaches the loss was born.
            self.found = None
        return result

    def _producer(self, t: torch.Tensor) -> dict[str, str]:
        seen = self.made_by.get(id(t))
        return {"from": seen[1]} if seen is not None and seen[0]() is t else {}

    def _note(self, name: str | None, inputs: list[torch.Tensor], outputs: list[torch.Tensor]) -> None:
        """Which function computed each result; a result sharing an argument's storage (a view, a reshape, an
        in-place call) or a copy of it holds that argument's values, so it keeps their producer."""
        storages = {t.untyped_storage().data_ptr(): t for t in inputs}
        copy = name in _COPIES  # values copied or cast, nothing computed (mask.float() has no producer)
        for t in outputs:
            source = (inputs[0] if inputs else None) if copy else storages.get(t.untyped_storage().data_ptr())
            producer = self._producer(source).get("from") if source is not None else None if copy else name
            if producer:
                self.made_by[id(t)] = (weakref.ref(t), producer)

    def _call(self, name: str) -> dict[str, Any]:
        return {"name": name, "module": self.running[-1] if self.running else None,
                "in_loss": self.where is not None, "location": _location(self.where)}


def first_nonfinite_gradient(module: nn.Module, state: dict[str, torch.Tensor], tape: Tape) -> dict[str, Any]:
    """The step on `tape` replayed on a copy holding `state` (the weights that step ran with), forward and
    backward: the first autograd node turning finite gradients into NaN/Inf (the derivative of sqrt or of a
    norm at 0, of acos at 1), named by the torch call that made it in the forward."""
    try:
        replica = independent_copy(module)
        replica.load_state_dict(state)
    except Exception as exc:
        return {"skipped": f"could not copy the model for replay ({type(exc).__name__}: {exc})"}
    watch = FirstNonfinite(nodes=True)
    handles = watch.follow_modules(replica)
    born: list[tuple[Any, torch.Tensor]] = []

    def check(node: Any, grad_inputs: tuple, grad_outputs: tuple) -> None:
        bad = [g for g in grad_inputs if g is not None and not bool(torch.isfinite(g).all())]
        if not born and bad and all(g is None or bool(torch.isfinite(g).all()) for g in grad_outputs):
            born.append((node, bad[0]))

    try:
        with preserved_streams(), torch.enable_grad():
            with watch:
                args, kwargs = tape.batch
                out = replica(*args, **kwargs)
                watch.running.clear()
                loss = tape.values_of(out, dict(replica.named_parameters()), before=watch.follow).get(tape.loss)
            if not isinstance(loss, torch.Tensor) or loss.grad_fn is None or not bool(torch.isfinite(loss)):
                return {"skipped": "the replayed loss is not a finite function of the weights"}
            for node in _nodes(loss.grad_fn):
                node.register_hook(lambda gi, go, node=node: check(node, gi, go))
            loss.backward()
    except Exception as exc:
        return {"skipped": f"replay failed ({type(exc).__name__}: {exc})"}
    finally:
        for h in handles:
            h.remove()
    if not born:
        return {"module": None}
    node, bad = born[0]
    call = watch.nodes.get(node) or {"name": node.name().split("Backward")[0].lower(), "module": None,
                                     "in_loss": False, "location": {}, "inputs": []}
    inputs = call.pop("inputs")
    return {"module": call["module"], "function": {**call, "arguments": [_range(t) for t in inputs], **_made(bad),
                                                   "backward": True}}


def _nodes(root: Any) -> list[Any]:
    """The autograd graph's nodes behind `root`, each once."""
    seen, todo = {root}, [root]
    while todo:
        for nxt, _ in todo.pop().next_functions:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return list(seen)


def _made(bad: torch.Tensor) -> dict[str, Any]:
    """What a non-finite result holds."""
    return {"dtype": str(bad.dtype).replace("torch.", ""), "dtype_max": torch.finfo(bad.dtype).max,
            "result": {"inf": int(torch.isinf(bad).sum()), "nan": int(torch.isnan(bad).sum()), "numel": bad.numel()}}


def _range(t: torch.Tensor) -> dict[str, Any]:
    x = t.detach()
    if not x.numel():
        return {"shape": list(x.shape)}
    return {"shape": list(x.shape), "min": float(x.min()), "max": float(x.max()),
            "smallest_magnitude": float(x.abs().min())}


_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _location(where: tuple[str, int] | None) -> dict[str, Any]:
    """The script's line making the call: recorded with a tape's call, else the innermost frame outside torch
    and traindoctor (the copy runs the script's own forward)."""
    if where is not None:
        return {"file": where[0], "line": where[1]}
    frame = sys._getframe(2)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith((_TORCH_DIR, _OWN_DIR)):
        frame = frame.f_back
    return {"file": frame.f_code.co_filename, "line": frame.f_lineno} if frame is not None else {}
