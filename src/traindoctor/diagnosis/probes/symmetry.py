"""Units that are copies of each other: a layer whose units started with identical incoming weights and
that training moves alike.

Units with identical incoming weights compute the same function of the same input; if the gradient they
receive is identical too (constant or zero initialisation of consecutive layers), every update keeps them
identical and the layer works as one unit, whatever its width. Random biases, dropout or a following layer
with random weights make the units' gradients differ; whether that separates them is measured, not assumed:
the share of what moved the units (an update, or at initialisation the batch's gradient) that differs
between them. Biases differ per unit by construction, and their differences can grow (Adam amplifies them), so
the units' outgoing role is measured apart from them: the batch's gradient at the starting weights with every
unit given the units' largest bias, for a random direction of the output (no loss needed). Alike there,
nothing but the biases tells the units apart. Behind a zero-initialised layer no gradient reaches the units
at the start, which says nothing of their role: they are read after one small step has moved that layer.

A unit is what a layer computes one output feature with: a weight row of a Linear, an output channel's
kernel of a convolution (within its group: groups read different inputs), a dimension of an embedding (a
column: identical columns give every token one value), the four (LSTM) or three (GRU) gate rows of one
hidden unit of a recurrent layer, the query, key and value rows of one dimension of an attention layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, TypedDict

import torch
from torch import nn

from ...judge import probes as probe_rules
from ...judge.thresholds import SYMMETRIC_TOLERANCE
from ...measure import alike
from ...vocabulary.finding import Finding
from ..registry import Context, probe
from ..setup import NotApplicable, Setup, SetupError, main_output

View = Callable[[torch.Tensor], torch.Tensor]  # a parameter (or its gradient) as (units, values of one unit)


class SymmetryRecord(TypedDict, total=False):
    layers: dict[str, int]  # layer -> units, for the layers whose units were identical and moved alike
    spread: dict[str, float]  # layer -> the share of the units' change that differs between them
    even: dict[str, float]  # layer -> the same share of the starting gradient, the units' biases made equal
    still: list[str]  # the layers among them that training never moved: no gradient reached them
    note: str


@dataclass
class Units:
    """The parameters of one layer's units, each with the view that puts one unit per row."""
    count: int
    weights: list[tuple[str, View]]
    biases: list[tuple[str, View]]
    raw: bool = False  # one dimension of a user-written module's own matrix: judged by the units' role alone


def _rows(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def _gated(gates: int) -> View:
    """Rows packed block after block ((gates * H, ...): LSTM's i, f, g, o; attention's q, k, v; a grouped
    convolution's groups): the unit h is row h of every block, so units are compared within each block, never
    across blocks."""
    return lambda t: t.reshape(gates, t.shape[0] // gates, -1).transpose(0, 1).reshape(t.shape[0] // gates, -1)


_GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _recurrent(prefix: str, m: nn.RNNBase) -> dict[str, Units]:
    view, found = _gated(next(g for kind, g in _GATES.items() if isinstance(m, kind))), {}
    for layer in range(m.num_layers):
        for sfx in ("", "_reverse")[:2 if m.bidirectional else 1]:
            at = f"l{layer}{sfx}"
            found[f"{prefix}weight_ih_{at}"] = Units(m.hidden_size, [(f"weight_ih_{at}", view), (f"weight_hh_{at}", view)],
                                                    [(f"bias_ih_{at}", view), (f"bias_hh_{at}", view)] if m.bias else [])
    return found


def _attention(prefix: str, m: nn.MultiheadAttention) -> dict[str, Units]:
    if m.in_proj_weight is not None:
        return {f"{prefix}in_proj_weight": Units(m.embed_dim, [("in_proj_weight", _gated(3))],
                                                [("in_proj_bias", _gated(3))] if m.in_proj_bias is not None else [])}
    return {f"{prefix}q_proj_weight": Units(m.embed_dim, [(f"{c}_proj_weight", _rows) for c in "qkv"],
                                           [("in_proj_bias", _gated(3))] if m.in_proj_bias is not None else [])}


def _along(dim: int) -> View:
    return lambda t: t.movedim(dim, 0).reshape(t.shape[dim], -1)


def _own(prefix: str, m: nn.Module, taken: set[str]) -> dict[str, Units]:
    """The matrices a user-written module holds itself (`x @ W`, F.linear(x, W), einsum): which dimension
    holds its units is not known, so each dimension is a candidate. Along a dimension that is not the units
    the slices get unlike gradients (each input its own), and along the units of the output each its own
    part of the output's; so no candidate is excluded, and only the units' role decides."""
    if type(m).__module__.startswith("torch.nn"):
        return {}
    return {f"{prefix}{p} (dim {d})": Units(size, [(p, _along(d))], [], raw=True)
            for p, t in m.named_parameters(recurse=False) if t.dim() >= 2 and p not in taken
            for d, size in enumerate(t.shape)}


def _layers(model: nn.Module) -> dict[str, tuple[nn.Module, Units]]:
    """Every layer of ≥ 2 units with trainable incoming weights, by its weight's name."""
    found: dict[str, tuple[nn.Module, Units]] = {}
    for name, m in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(m, tuple(_GATES)) and not getattr(m, "proj_size", 0):
            layers = _recurrent(prefix, m)
        elif isinstance(m, nn.MultiheadAttention):
            layers = _attention(prefix, m)
        elif isinstance(getattr(m, "weight", None), nn.Parameter) and m.weight.dim() >= 2:
            if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):  # (tokens, dims): a dimension is a unit
                units = Units(m.weight.shape[1], [("weight", lambda t: t.T)], [])
            elif isinstance(m, _TRANSPOSED):  # (in, out / groups, ...): out channels on dim 1
                if m.groups > 1:
                    continue
                units = Units(m.weight.shape[1], [("weight", lambda t: _rows(t.transpose(0, 1)))], [("bias", _rows)])
            elif getattr(m, "groups", 1) > 1:  # each group reads its own inputs: units are compared within groups
                view = _gated(m.groups)
                units = Units(m.weight.shape[0] // m.groups, [("weight", view)], [("bias", view)])
            else:
                units = Units(m.weight.shape[0], [("weight", _rows)], [("bias", _rows)])
            layers = {f"{prefix}weight": units}
        else:
            layers = {}
        layers.update(_own(prefix, m, {p for u in layers.values() for p, _ in u.weights}))
        for label, units in layers.items():
            params = [getattr(m, p, None) for p, _ in units.weights]
            if units.count >= 2 and all(isinstance(p, nn.Parameter) and p.requires_grad for p in params):
                units.biases = [(b, v) for b, v in units.biases if isinstance(getattr(m, b, None), nn.Parameter)]
                found[label] = (m, units)
    return found


def _matrix(m: nn.Module, parts: list[tuple[str, View]],
            value: Callable[[nn.Parameter], torch.Tensor | None]) -> torch.Tensor | None:
    """The units' `value`s of `parts` side by side, (units, ...); None when a part has none (no gradient)."""
    tensors = [value(getattr(m, p)) for p, _ in parts]
    if any(t is None for t in tensors):
        return None
    return torch.cat([view(t.detach().float()) for t, (_, view) in zip(tensors, parts)], 1)


def _identical(rows: torch.Tensor) -> bool:
    if not torch.allclose(rows[0], rows[1], rtol=0, atol=SYMMETRIC_TOLERANCE * float(rows[:2].abs().max())):
        return False  # the usual answer, without a pass over a large layer
    scale = float(rows.abs().max())
    return bool((rows - rows[:1]).abs().max() <= SYMMETRIC_TOLERANCE * (scale + 1e-30))


def _output_layer(setup: Setup, model: nn.Module) -> nn.Module | None:
    """The last module with weights the forward calls: its units are the outputs, each moved by its own
    target, so units alike there are the targets alike, whatever the initialisation. Read as the last to
    start: a module holding weights of its own (a position table, a scale) finishes after the children it
    calls, the head among them."""
    called: list[nn.Module] = []
    handles = [m.register_forward_pre_hook(lambda m, _: called.append(m)) for m in model.modules()
               if any(p.dim() >= 2 for p in m.parameters(recurse=False))]
    try:
        with torch.no_grad():
            setup.forward(model)
    finally:
        for h in handles:
            h.remove()
    return called[-1] if called else None


def _even_biases(m: nn.Module, units: Units) -> None:
    """Give every unit of the layer the units' largest bias, in place: as alive as the most active of them (the
    mean can put zero-weight ReLUs below their kink, where no gradient shows their role)."""
    for name, view in units.biases:
        b = getattr(m, name)
        at = view(torch.arange(b.numel()).reshape(b.shape))  # (units, values): each value's place in b
        rows = view(b.detach())
        flat = b.detach().clone().reshape(-1)
        flat[at.reshape(-1)] = rows.amax(0, keepdim=True).expand_as(rows).reshape(-1)
        with torch.no_grad():
            b.copy_(flat.reshape(b.shape))


def _gradient_spread(setup: Setup, model: nn.Module, layers: dict[str, tuple[nn.Module, Units]]) -> dict[str, float]:
    """The spread of the batch's gradient over each layer's units (0 for a layer it never reaches: nothing
    will move its units apart)."""
    def batch() -> dict[str, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        try:
            with torch.enable_grad():
                setup.step_loss(model)[1].backward()
        except SetupError as exc:
            raise NotApplicable(f"units with identical weights, but no loss to see if training separates them: {exc}")
        return _gradients(layers)
    return {label: alike.spread(grad) for label, grad in _reached(model, batch).items()}


def _role_spread(setup: Setup, model: nn.Module, layers: dict[str, tuple[nn.Module, Units]]) -> dict[str, float]:
    """The spread over each layer's units of the gradient of a fixed random projection of the output: units
    whose outgoing role is the same receive the same gradient whatever the output's gradient, so no loss is
    needed; a following layer with random weights, or units that are outputs, give each its own. A layer it
    never reaches shows no role and is left out. Empty without a floating output."""
    grads = _reached(model, lambda: _role_gradients(setup, model, layers))
    return {label: alike.spread(grad) for label, grad in grads.items() if grad.any()}


def _reached(model: nn.Module, gradients: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Each layer's gradient from `gradients()`. A layer it leaves at zero (a zero-initialised layer after it:
    adaLN-Zero, a zero head, zero hidden layers) is read again after one small step of the whole model along
    that gradient, the model then put back: the zero layer has moved by what its inputs make differ between
    the units, nothing if they are copies, and passes that on."""
    grads = gradients()
    if unreached := [label for label, grad in grads.items() if not grad.any()]:
        saved = [p.detach().clone() for p in model.parameters()]
        _nudge(model)
        again = gradients()
        grads.update({label: again[label] for label in unreached if label in again})
        with torch.no_grad():
            for p, was in zip(model.parameters(), saved):
                p.copy_(was)
    return grads


def _gradients(layers: dict[str, tuple[nn.Module, Units]]) -> dict[str, torch.Tensor]:
    return {label: grad for label, (m, u) in layers.items()
            if (grad := _matrix(m, u.weights, lambda p: p.grad)) is not None}


def _role_gradients(setup: Setup, model: nn.Module,
                    layers: dict[str, tuple[nn.Module, Units]]) -> dict[str, torch.Tensor]:
    """Each layer's gradient, (units, ...), of the fixed random projection of the output. A user-written
    module's own tensor has units only if the forward multiplies it as a matrix (an added position table or
    a scale has none)."""
    model.zero_grad(set_to_none=True)
    with torch.enable_grad():
        out = main_output(setup.forward(model))
        if out is None or not out.is_floating_point() or not out.requires_grad:
            return {}
        weights = alike.multiplied(out)
        direction = torch.randn(out.shape, generator=torch.Generator().manual_seed(0)).to(out)
        (out * direction).sum().backward()
    return _gradients({label: (m, u) for label, (m, u) in layers.items()
                       if not u.raw or id(getattr(m, u.weights[0][0])) in weights})


def _nudge(model: nn.Module, size: float = 1e-3) -> None:
    """Move every parameter along its gradient, the largest change `size`: only the direction matters."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    top = max((float(g.abs().max()) for g in grads), default=0.0)
    if top > 0:
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p.sub_(p.grad * (size / top))


def measure(setup: Setup, start: Mapping[str, torch.Tensor] | None,
            trained: bool) -> tuple[dict[str, tuple[int, float | None, float | None]], list[str]]:
    """Layers but the output layer whose units started with identical weights -> (units, spread of their
    change, spread of the starting gradient with the units' biases equal): the change training made since
    `start` (`trained`; a layer it never moved stayed identical), or the batch's gradient (untrained).
    Trained from an unknown start: units identical now, biases included (the second spread unknown). A
    user-written module's own matrix has only the second. Also the layers training never moved."""
    model = setup.copy_model(train=True)
    names = {id(p): n for n, p in model.named_parameters()}
    began: Callable[[nn.Parameter], torch.Tensor | None] = (
        (lambda p: start.get(names[id(p)])) if trained and start is not None else (lambda p: p))
    unknown = trained and start is None
    candidates = {label: (m, u) for label, (m, u) in _layers(model).items()
                  if (rows := _matrix(m, u.weights + (u.biases if unknown else []), began)) is not None
                  and _identical(rows)}
    if candidates:
        output = _output_layer(setup, model)
        candidates = {label: (m, u) for label, (m, u) in candidates.items() if m is not output or u.raw}
    layers = {label: (m, u) for label, (m, u) in candidates.items() if not u.raw}
    if unknown:
        return {label: (u.count, 0.0, None) for label, (m, u) in layers.items()}, []
    if not candidates:
        return {}, []
    still: list[str] = []
    if trained:
        changes = {label: moved for label, (m, u) in layers.items()
                   if (moved := _matrix(m, u.weights, lambda p: p - began(p))) is not None}
        spread = {label: alike.spread(change) for label, change in changes.items()}
        still = [label for label, change in changes.items() if not change.any()]
    else:
        spread = _gradient_spread(setup, model, layers) if layers else {}
    if trained:  # back to where training started
        with torch.no_grad():
            for p in model.parameters():
                if (was := began(p)) is not None:
                    p.copy_(was)
    for m, u in candidates.values():
        _even_biases(m, u)
    even = _role_spread(setup, model, candidates)
    return {label: (u.count, spread.get(label), even.get(label)) for label, (m, u) in candidates.items()
            if label in spread or label in even}, still


@probe("symmetry", order=115, cheap=True,
       about="layers whose units started with identical weights and that training (or the batch's gradient) moves alike")
def symmetry(setup: Setup, context: Context) -> tuple[list[Finding], SymmetryRecord]:
    measured, still = measure(setup, context.options.start, context.options.trained)
    if not measured:
        return [], SymmetryRecord(note="no layer whose units all have identical weights")
    finding, record = probe_rules.symmetric_units(measured, context.options.trained, still=still)
    return ([finding] if finding else []), SymmetryRecord(**record)
