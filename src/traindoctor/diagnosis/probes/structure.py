"""What the forward computes, read from the computation itself rather than the module names.

- affine: is the model's last weight layer an affine function of the inputs although two or more weight
  layers stand in series before it, with nothing nonlinear between them? Then the stack collapses to one
  linear map whatever its depth and width. Two readings must agree. The numbers: f((a + b) / 2) against
  (f(a) + f(b)) / 2 for each sample a and another sample b. The graph: the ops on the autograd graph between
  the weights, each linear only if linear_ops knows it so — a ReLU whose units all keep one sign on this batch
  passes the numbers' test but is still there. The depth is counted on the same graph, so functional weights
  count and parallel heads do not.
- view-permutation: a view/reshape whose result has the same dimensions as its input in another order moves
  no axis — it re-reads the memory with the wrong strides and scrambles the elements (permute was meant).
  Where no view in the forward did it, the images the first 2-D convolution reads are compared with the same
  values read as channels-last memory: a layout broken before the model (a numpy reshape) leaves the other
  reading the image.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, NamedTuple, TypedDict

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ...judge import probes as probe_rules
from ...measure.recorder import user_location
from ...measure.views import channels_last_reading, local_roughness, reordered, roughness
from ...vocabulary.finding import Finding
from .. import linear_ops
from ..axis import batch_dim
from ..registry import Context, probe
from ..setup import NotApplicable, Setup, main_output
from ...measure.stats import tensors_in
from ..tree import tree_map

SAMPLES = 64  # samples the affine test reads: the midpoint identity holds per sample, a few suffice


class AffineRecord(TypedDict, total=False):
    layer: str  # the weight layer closest to the output
    weight_layers_in_series: int
    midpoint_deviation: float  # |f((a+b)/2) - (f(a)+f(b))/2|, relative to |f(a) - f(b)|
    nonlinear_ops: list[str]  # ops between the weight layers not known to be linear (autograd names)
    note: str


class ViewRecord(TypedDict, total=False):
    scrambles: list[dict[str, Any]]  # each: shapes in and out, the call, the user's line
    views: int
    fewer: int  # the samples of the cut batch the scrambles showed on, when the whole batch hid them
    # the first 2-D convolution's input (B, C, H, W), C > 1: measure.views.roughness of it as given, and of the
    # same values read as the channels-last memory a view would have taken them from
    pixels: dict[str, Any]
    note: str


class _Below(NamedTuple):
    """What lies beneath one autograd node."""
    depth: int  # the most weight layers on one path from the inputs, the node's own layer included
    inputs: bool  # depends on the inputs (a weight layer's output does, even where a detach hides them)
    weighted: bool  # a trainable weight enters beneath it, or it is a weight layer's output
    bends: frozenset[str]  # nonlinear ops at or beneath it that depend on both the inputs and a weight


def _walk(produced: dict[Any, str], fed: dict[str, list[Any]], inputs: set[int], weights: set[int]) -> dict[Any, _Below]:
    """One pass over the autograd graph beneath the weight layers' outputs, each node after what feeds it. A
    layer's depth is counted from its inputs (`fed`), so the ops inside a module do not add to it; its bends
    come from everything beneath its output, so a nonlinearity inside a module counts."""
    seen: dict[Any, _Below] = {}
    stack = [(n, False) for n in list(produced) + [f for fs in fed.values() for f in fs]]
    while stack:  # iterative: a deep network's graph exceeds the recursion limit
        node, ready = stack.pop()
        if node in seen:
            continue
        children = [c for c, _ in node.next_functions]
        below = [c for c in children if c is not None] + _inputs_of(node, produced, fed)
        if not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in below if c not in seen)
            continue
        if hasattr(node, "variable"):  # a leaf: an input, a weight, or neither
            seen[node] = _Below(0, id(node.variable) in inputs, id(node.variable) in weights, frozenset())
            continue
        parts = [seen[c] for c in children if c is not None]
        layer = node in produced
        dependent, weighted = layer or any(p.inputs for p in parts), layer or any(p.weighted for p in parts)
        bends = frozenset().union(*(p.bends for p in parts))
        # an op on the raw inputs alone (preprocessing) is not between weights; a fused one taking inputs and
        # weights together (an LSTM) is
        if dependent and weighted and not linear_ops.linear(node, [c is not None and seen[c].inputs for c in children]):
            bends |= {linear_ops.op_name(node)}
        depth = max((p.depth for p in parts), default=0)
        if layer:
            depth = 1 + max((seen[f].depth for f in _inputs_of(node, produced, fed)), default=0)
        seen[node] = _Below(depth, dependent, weighted, bends)
    return seen


def _inputs_of(node: Any, produced: dict[Any, str], fed: dict[str, list[Any]]) -> list[Any]:
    """The nodes a layer's output `node` was computed from (none when it is no layer's output); a layer that
    returns its input unchanged is not beneath itself."""
    return [f for f in fed.get(produced.get(node), []) if f is not node]


def _last_layer(model: nn.Module, setup: Setup, inputs: Any) -> tuple[dict[str, torch.Tensor], dict[str, _Below]]:
    """Each weight layer's output on `inputs` (of its last call), and what lies beneath it on the autograd
    graph: its depth in weight layers, and the nonlinear ops between the weights."""
    outputs: dict[str, torch.Tensor] = {}
    fed: dict[str, list[Any]] = {}  # layer -> the autograd nodes of its inputs
    handles = []
    for name, m in model.named_modules():  # trainable layers only: a frozen linear filter is preprocessing
        if isinstance(m, nn.Embedding) or not any(p.dim() >= 2 and p.requires_grad for p in m.parameters(recurse=False)):
            continue
        def keep(_m: nn.Module, args: Any, out: Any, name: str = name) -> None:
            t = main_output(out)
            if isinstance(t, torch.Tensor) and t.is_floating_point() and t.grad_fn is not None:
                outputs[name] = t
                fed[name] = [a.grad_fn for _, a in tensors_in(args) if a.grad_fn is not None]  # a leaf input: none below
        handles.append(m.register_forward_hook(keep))
    # Inputs that require grad put every op on the autograd graph, frozen layers included, so paths are whole.
    inputs = tree_map(inputs, lambda t, _: t.detach().requires_grad_() if t.is_floating_point() else t)
    try:
        with torch.enable_grad():
            setup.forward(model, inputs, seed=0)
    finally:
        for h in handles:
            h.remove()
    produced = {t.grad_fn: n for n, t in outputs.items()}
    weights = {id(p) for p in model.parameters() if p.dim() >= 2 and p.requires_grad}
    seen = _walk(produced, fed, {id(t) for _, t in tensors_in(inputs)}, weights)
    # Depth from each layer's own inputs: an outer module returning an inner one's output shares its node.
    layers = {}
    for name, t in outputs.items():
        below = [seen[f].depth for f in fed[name] if f is not t.grad_fn]
        layers[name] = seen[t.grad_fn]._replace(depth=1 + max(below, default=0))
    return outputs, layers


def _outputs(model: nn.Module, setup: Setup, inputs: Any, name: str) -> torch.Tensor | None:
    got: list[torch.Tensor] = []
    handle = model.get_submodule(name).register_forward_hook(lambda _m, _a, out: got.append(main_output(out)))
    try:
        with torch.no_grad():
            setup.forward(model, inputs, seed=0)
    finally:
        handle.remove()
    return got[-1].detach().double() if got and isinstance(got[-1], torch.Tensor) else None


@probe("affine", order=116, cheap=True,
       about="is the last weight layer an affine function of the inputs, with weight layers in series before it?")
def affine(setup: Setup, context: Context) -> tuple[list[Finding], AffineRecord]:
    B = setup.need_samples(2)
    if B > SAMPLES:
        setup, B = setup.subset(SAMPLES), SAMPLES
    floats = [t for _, t in tensors_in(setup.inputs) if t.is_floating_point() and t.dim() >= 1]
    if not floats:
        raise NotApplicable("no floating-point input: an affine map needs inputs it can mix (token ids cannot be)")
    model = setup.copy_model(train=False)
    outputs, layers = _last_layer(model, setup, setup.inputs)
    if not layers:
        raise NotApplicable("no weight layer's output depends on the parameters")
    name = max(layers, key=lambda n: (layers[n].depth, list(outputs).index(n)))
    depth, bends = layers[name].depth, sorted(layers[name].bends)
    record = AffineRecord(layer=name, weight_layers_in_series=depth, nonlinear_ops=bends)
    if depth < 2:
        record["note"] = "one weight layer on every path: an affine model is then a linear model, not a collapse"
        return [], record

    def mixed(weight: float) -> Any:
        def mix(t: torch.Tensor, _: str) -> torch.Tensor:
            if not (t.is_floating_point() and t.dim() >= 1):
                return t
            dim = batch_dim(t, B, setup.axis.axis)
            return t if dim is None else weight * t + (1 - weight) * t.roll(1, dim)
        return tree_map(setup.inputs, mix)

    a, b, mid = (_outputs(model, setup, mixed(w), name) for w in (1.0, 0.0, 0.5))
    if a is None or b is None or mid is None or not (a.isfinite().all() and b.isfinite().all() and mid.isfinite().all()):
        raise NotApplicable(f"`{name}` gave no finite floating-point output on the mixed inputs")
    spread = float((a - b).abs().max())
    if spread == 0:
        raise NotApplicable(f"`{name}` gives the same output for every sample: affinity cannot be read")
    record["midpoint_deviation"] = float((mid - (a + b) / 2).abs().max()) / spread
    found, judged = probe_rules.no_nonlinearity(name, depth, record["midpoint_deviation"], bends,
                                                type(setup.model).__name__, dict(record))
    return ([found] if found else []), AffineRecord(**judged)


_TORCH = os.path.dirname(os.path.abspath(torch.__file__))
_VIEWS = {torch.Tensor.view, torch.Tensor.reshape, torch.reshape}


class _Views(TorchFunctionMode):
    """view/reshape calls whose output is the input's dimensions reordered (sizes > 1 only); and the images
    the first 2-D convolution reads, where a layout broken before the forward (in numpy, say) shows."""

    def __init__(self) -> None:
        super().__init__()
        self.seen, self.scrambles, self.images = 0, [], None

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if func is torch.conv2d and self.images is None and args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            self.images = args[0]
        # torch's own functions reshape by design; the user's code is what is read
        if func in _VIEWS and not os.path.abspath(sys._getframe(1).f_code.co_filename).startswith(_TORCH) and args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor):
            self.seen += 1
            before, after = tuple(args[0].shape), tuple(out.shape)
            if reordered(before, after):
                self.scrambles.append({"call": getattr(func, "__name__", "view"), "from": list(before),
                                       "to": list(after), **user_location(always=True)})
        return out


@probe("view-permutation", order=65, cheap=True,
       about="view/reshape calls in the forward that reorder the input's dimensions (a permute was meant)")
def view_permutation(setup: Setup, context: Context) -> tuple[list[Finding], ViewRecord]:
    model = setup.copy_model(train=False)
    with torch.no_grad(), _Views() as watch:
        setup.forward(model, seed=0)
    record = ViewRecord(views=watch.seen)
    where = f"in `{type(setup.model).__name__}`'s forward"
    if not watch.scrambles and (cut := _on_fewer(setup, model)):
        # as many samples as time steps (a square batch): (T, B, H) viewed as (B, T, H) keeps its shape
        watch, record["fewer"] = cut, setup.batch_size - 1
        where += (f" on the batch cut to {record['fewer']} along dim {setup.axis.axis} (at {setup.batch_size}, the "
                  "sizes it reorders coincide)")
    if not watch.scrambles:
        record["note"] = f"none of {watch.seen} view/reshape calls reorders dimensions"
        images = watch.images
        if images is None or images.shape[1] < 2 or min(images.shape[2:]) < 2 or not images.is_floating_point():
            return [], record  # one channel: a view from channels-last moves no element
        other = channels_last_reading(images)
        record["pixels"] = {"shape": list(images.shape), "given": roughness(images), "channels_last": roughness(other),
                            "channels_last_local": local_roughness(other)}
        found = probe_rules.pixels_scrambled(record["pixels"], type(setup.model).__name__, dict(record))
        return ([found] if found else []), record
    unique = {(s.get("file"), s.get("line"), tuple(s["from"]), tuple(s["to"])): s for s in watch.scrambles}
    record["scrambles"] = list(unique.values())
    return [probe_rules.layout_scrambled(record["scrambles"], where, dict(record))], record


def _on_fewer(setup: Setup, model: nn.Module) -> _Views | None:
    """The views of a forward on one sample fewer, when it shows a reordering; None when it does not, or
    the model does not run on fewer samples (a batch size written into the forward)."""
    if setup.axis.axis is None or setup.batch_size < 3:
        return None
    try:
        with torch.no_grad(), _Views() as watch:
            setup.forward(model, setup.subset(setup.batch_size - 1).inputs, seed=0)
    except Exception:
        return None
    return watch if watch.scrambles else None
