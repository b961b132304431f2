"""Small tensor statistics shared by the recorder, the rules and the probes."""

from __future__ import annotations

from typing import Any, Iterator

import torch


def stack_scalars(scalars: list[torch.Tensor]) -> torch.Tensor:
    """0-d tensors as one vector, on their device when they share one."""
    try:
        return torch.stack(scalars)
    except RuntimeError:  # tensors on several devices
        return torch.stack([s.float().cpu() for s in scalars])


def tensors_in(obj: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (name, tensor) for the tensors in nested args / kwargs / dicts / tuples."""
    if isinstance(obj, torch.Tensor):
        yield prefix or "input", obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from tensors_in(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from tensors_in(v, f"{prefix}[{i}]" if prefix else f"arg{i}")


def batch_tensors(args: tuple, kwargs: dict) -> Iterator[tuple[str, torch.Tensor]]:
    """The tensors of a call: positional ones named arg0, arg1..., keyword ones by their key."""
    yield from tensors_in(tuple(args))
    yield from tensors_in(dict(kwargs))


def nonfinite_summary(t: torch.Tensor, limit: int = 8) -> dict[str, Any] | None:
    """Where a tensor is non-finite: counts and the offending feature columns (last dim)."""
    if not t.is_floating_point() and not t.is_complex():
        return None
    bad = ~torch.isfinite(t.detach())
    n = int(bad.sum())
    if n == 0:
        return None
    out: dict[str, Any] = {"shape": list(t.shape), "nonfinite": n, "nan": int(torch.isnan(t).sum()), "numel": t.numel()}
    if t.dim() >= 2:
        cols = bad.reshape(-1, t.shape[-1]).any(0).nonzero().flatten().tolist()
        rows = bad.reshape(-1, t.shape[-1]).any(1).nonzero().flatten().tolist()
        out["columns"] = cols[:limit]
        out["n_columns"] = len(cols)
        out["first_rows"] = rows[:limit]
    else:
        out["positions"] = bad.nonzero().flatten().tolist()[:limit]
    return out


def feature_scale(t: torch.Tensor, feature_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and std (features along `feature_dim`), ignoring non-finite values."""
    x = t.detach().float().movedim(feature_dim, -1).reshape(-1, t.shape[feature_dim])
    x = x[torch.isfinite(x).all(1)]
    if x.shape[0] == 0:
        return torch.zeros(t.shape[feature_dim]), torch.zeros(t.shape[feature_dim])
    return x.mean(0), (x.std(0) if x.shape[0] > 1 else torch.zeros(x.shape[1]))


def first_tensor(out: Any) -> torch.Tensor | None:
    """The main tensor of a model output: a tensor, `.logits`, or the first non-scalar tensor inside."""
    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None) if not isinstance(out, dict) else out.get("logits")
    if isinstance(logits, torch.Tensor):
        return logits
    for _, t in tensors_in(out if isinstance(out, (dict, list, tuple)) else {}):
        if t.dim() > 0:
            return t
    return None


def finiteness_probe(t: torch.Tensor) -> list[torch.Tensor]:
    """A device value that is 0 when every element of `t` is finite and NaN otherwise, with no host
    sync: `t`'s min and max in one pass (NaN propagates through both; +-Inf shows in one), times 0.
    Several times cheaper than `isfinite(t).all()` on CPU; 0 or NaN reads back exactly in any
    dtype, where a float64 extreme would overflow the float32 read-back."""
    t = t.detach()
    if t.is_complex():
        t = torch.view_as_real(t)
    if t.numel() == 0:
        return []
    low, high = torch.aminmax(t)
    return [low * 0 + high * 0]
