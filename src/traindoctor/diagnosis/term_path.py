"""Is the path to one term of the loss cut? The gradient-path experiment (diagnosis/gradient_path.py) asks of
the total loss; a cut on one term of a sum is invisible there when other terms still send gradient to the
same weights: a classifier head reading `z.detach()` of an autoencoder's code, a VAE's sample drawn under
torch.no_grad() (the encoder learns from the KL alone), a second head reading `features.data`.

For each additive term of the loss on tape (measure/tape.py `Tape.terms`, as loss_terms.named_terms reads
them), on a copy with the tape's batch: the term's gradient for the parameters the optimizer holds. Those
it sends exactly zero (or None) are candidates. The forward and the loss run under gradient_path's
`Cuts`, which also follows what becomes of each cut's output; the term is suspect when a cut that the
candidates feed is read, inside this term's graph, by a call that takes a weight this term does train — a
layer goes on from the cut tensor, so what was cut is a representation the term is trained through. A cut
read only by arithmetic with activations or targets (an advantage, a TD target, a codebook's target, a
straight-through estimator) is a deliberate stop-gradient and is not followed. The suspect's candidates
upstream of the cut are then moved together (one forward, a private generator; a second, further, if the
term held still): if the term moves, its path from them is cut. Cost: a forward, one backward per term (at
most BALANCE_MAX_TERMS terms) and, with a suspect, a forward for the repeat noise and one or two per suspect term. Judged in judge/gradient_path.py (`judge_terms`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..judge.gradient_path import depends
from ..judge.thresholds import GRADIENT_PROBE_COARSE, GRADIENT_PROBE_FAR
from ..measure.tape import Tape, cloned_batch
from .gradient_path import SEED, Cuts, Reader, direction, leaves_of, moved, nodes_of, started_from
from .loss_terms import NotMultiLoss, named_terms
from .sandbox import same_noise
from .tree import Call, call

# Every parameter moved feeds a call where gradient stops, and a rounding's steps or a small weight's effect
# below float32's resolution hide a fine move (judge/thresholds.py): the total loss's coarse move, at once,
# then its far one if the term held still (an argmax that noise dominates).
STEPS = (GRADIENT_PROBE_COARSE, GRADIENT_PROBE_FAR)


def measure(model: nn.Module, tape: Tape, held: list[str]) -> list[dict[str, Any]]:
    """On `model` (a copy: its parameters are moved and put back), each term of the tape's loss whose path
    from some held parameters is cut before a layer of its own: the term, the cut, the layer that reads it,
    the parameters moved and how much the term moved. Empty for a single-term loss."""
    try:
        terms = named_terms(tape)
    except NotMultiLoss:
        return []
    params = dict(model.named_parameters())
    held = [n for n in held if n in params and params[n].requires_grad]
    batch = cloned_batch(*tape.batch)

    watch = Cuts(tape.outside_weights(), before=started_from(model, batch, tape.constants()))

    def values() -> dict[str, Any]:
        with same_noise(SEED):
            # Calls made under no_grad (a distribution's sample()) replayed with gradients: the cut is sought.
            v = tape.values_of(call(model, Call(batch)), params, before=watch.replay, as_recorded=False)
        return {name: v.get(t.slot) for name, t in terms.items()}

    with torch.enable_grad(), watch:
        first = values()
    suspects = {}
    for name, value in first.items():
        if not (isinstance(value, torch.Tensor) and value.numel() == 1 and value.requires_grad):
            continue
        if not math.isfinite(float(value.detach())):
            continue
        grads = torch.autograd.grad(value.reshape(()), [params[n] for n in held], retain_graph=True, allow_unused=True)
        live = {id(params[n]) for n, g in zip(held, grads) if g is not None and bool(g.any())}
        zero = {id(params[n]): n for n in held if id(params[n]) not in live}
        if (suspect := _suspect(watch, value, live, zero)) is not None:
            suspects[name] = suspect
    if not suspects:
        return []
    with torch.no_grad():
        again = values()
    out = []
    # Moved only once every gradient is taken: a move changes the parameters the graph saved.
    for name, (cuts, reader, up) in suspects.items():
        before = float(first[name].detach())
        noise = abs(float(again[name]) - before)
        for step in STEPS:
            gen = torch.Generator().manual_seed(SEED)
            with torch.no_grad(), moved(params, {n: direction(params[n], step, gen) for n in up}):
                after = float(values()[name])
            change = abs(after - before) if math.isfinite(after) else math.inf
            if depends(change, before, noise):
                break
        out.append({"term": name, "value": before, "repeat_noise": noise,
                    "parameters": len(held), "moved": up, "step": step, "change": change,
                    "cuts": [{"call": how, **where} for how, where, _ in cuts],
                    "reader": {"call": reader.call, **reader.where}})
    return out


def _suspect(watch: Cuts, value: torch.Tensor, live: set[int],
             zero: dict[int, str]) -> tuple[list[tuple], Reader, list[str]] | None:
    """The first call of this term's graph that takes a weight the term trains (one of the model's, or a
    layer's outside it) and reads a tensor derived from cuts fed by zero-gradient parameters: those cuts, the
    call, and those parameters. None if no such call."""
    graph = nodes_of(value)
    upstream: dict[int, set[int]] = {}  # a cut's index -> the zero-gradient parameters its inputs come from
    for reader in watch.readers:
        if reader.index or not any(id(w) in live or id(w) in watch.outside for w in reader.weights):
            continue
        if not any(o.grad_fn is not None and id(o.grad_fn) in graph for o in reader.outputs):
            continue
        for i in reader.cuts:
            if i not in upstream:
                upstream[i] = set().union(*(leaves_of(t) for t in watch.cuts[i][2])) & zero.keys()
        fed = sorted(i for i in reader.cuts if upstream[i])
        if fed:
            up = set().union(*(upstream[i] for i in fed))
            return [watch.cuts[i] for i in fed], reader, [n for i, n in zero.items() if i in up]
    return None

