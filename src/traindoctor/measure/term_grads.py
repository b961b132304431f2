"""What each additive term of a loss asks of the parameters two or more of them reach: its gradient's norm there,
and for each pair the cosine between their gradients and how much of them cancels. Used on copies replaying a
loss on tape (diagnosis/loss_terms.py), on the Monitor's live graph, and on the live graph of a sampled step
whose terms are not all on tape (measure/tape.py `live_terms`). Gradients are taken with the graph retained and
through torch.autograd.grad, so `.grad` and the script's own backward() are unaffected."""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import torch


def measure(terms: dict[str, torch.Tensor], params: Sequence[torch.Tensor], at: Any) -> dict[str, Any] | None:
    """One sample: each term's gradient norm on the shared parameters, and each pair's cosine and cancellation.
    None when fewer than two terms reach a shared parameter."""
    grads: dict[str, tuple[torch.Tensor | None, ...]] = {}
    for name, value in terms.items():
        if isinstance(value, torch.Tensor) and value.requires_grad and value.numel() == 1:
            grads[name] = torch.autograd.grad(value.reshape(()), list(params), retain_graph=True, allow_unused=True)
    reach = [sum(g[i] is not None for g in grads.values()) for i in range(len(params))]
    shared = [i for i, n in enumerate(reach) if n >= 2]
    judged = [name for name, g in grads.items() if any(g[i] is not None for i in shared)]
    if len(judged) < 2:
        return None
    square = {n: _dot(grads[n], grads[n], shared) for n in judged}
    norms = {n: math.sqrt(v) for n, v in square.items()}
    pairs = []
    for a, b in itertools.combinations(judged, 2):
        dot = _dot(grads[a], grads[b], shared)
        denom = norms[a] * norms[b]
        together = math.sqrt(max(square[a] + square[b] + 2 * dot, 0.0))
        pairs.append({"terms": [a, b], "cosine": dot / denom if denom > 0 else math.nan,
                      "cancel": together / (norms[a] + norms[b]) if norms[a] + norms[b] > 0 else math.nan})
    values = {n: float(terms[n].detach().reshape(())) for n in judged}
    return {"at": at, "values": values, "norms": norms, "pairs": pairs}


def _dot(a: tuple[torch.Tensor | None, ...], b: tuple[torch.Tensor | None, ...], where: list[int]) -> float:
    """Their dot product over the parameters `where`, summed per tensor in float64 (no concatenated copy)."""
    total = 0.0
    for i in where:
        if a[i] is not None and b[i] is not None:
            total += float(torch.vdot(a[i].reshape(-1).double(), b[i].reshape(-1).double()))
    return total
