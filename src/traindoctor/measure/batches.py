"""The batches a training script feeds, profiled as columns (measure/profile.py) so that the column rules of
`traindoctor data` (judge/columns.py) judge them in `run` and the Monitor: the model's floating inputs,
and the targets its loss functions receive.

Bounded by rows, not time: the first BATCH_ROWS rows of each stream are profiled, so the same script gives
the same profile on any machine. Integer inputs are left out (token ids and masks are indices, not
measurements), and so are integer targets other than one class label per sample. A batch whose per-sample
shape differs from the first one's (a sequence of another length) is skipped for that column: its
dimensions would not line up.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import torch

from .profile import Profile, add_chunk

BATCH_ROWS = 4096  # samples profiled per stream: enough for the robust scales (50+) and the rare-class counts


@dataclass
class Stream:
    profile: Profile
    shapes: dict[str, tuple] = field(default_factory=dict)  # per column: the per-sample shape of its first batch
    skipped: int = 0  # batches left out: a column's shape changed


@dataclass
class BatchColumns:
    inputs: dict[str, Stream] = field(default_factory=dict)  # per model name
    targets: dict[str, Stream] = field(default_factory=dict)  # per loss function
    _names: dict[type, list[str]] = field(default_factory=dict)

    def add_inputs(self, model: str, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        """The floating tensors of one model call, named by the forward's parameters."""
        stream = self.inputs.get(model)
        if stream is not None and stream.profile.rows >= BATCH_ROWS:
            return
        names = self._parameters(module)
        named = [(names[i] if i < len(names) else f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
        chunk = {n: t for n, t in named if _measurement(t)}
        if chunk:
            stream = self.inputs.setdefault(model, Stream(Profile(f"the inputs of `{model}`")))
            _add(stream, chunk)

    def add_target(self, loss: str, target: object) -> None:
        stream = self.targets.get(loss)
        if stream is not None and stream.profile.rows >= BATCH_ROWS:
            return
        if not isinstance(target, torch.Tensor) or target.dim() == 0 or target.shape[0] < 2:
            return
        if not target.is_floating_point() and (target.dim() != 1 or target.dtype == torch.bool):
            return  # token targets (N, T) and masks: the class balance is judged on one label per sample
        stream = self.targets.setdefault(loss, Stream(Profile(f"the targets of `{loss}`")))
        _add(stream, {"target": target})

    def _parameters(self, module: torch.nn.Module) -> list[str]:
        kind = type(module)
        if kind not in self._names:
            try:
                params = inspect.signature(module.forward).parameters.values()
                self._names[kind] = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            except (TypeError, ValueError):
                self._names[kind] = []
        return self._names[kind]


def _measurement(t: object) -> bool:
    """A batched floating tensor: samples along its first axis, at least two of them."""
    return isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() >= 2 and t.shape[0] >= 2


def _add(stream: Stream, tensors: dict[str, torch.Tensor]) -> None:
    known = set(stream.profile.layouts)
    shapes = {name: tuple(t.shape[1:]) for name, t in tensors.items()}
    if (known and set(tensors) != known) or any(stream.shapes.setdefault(n, s) != s for n, s in shapes.items()):
        stream.skipped += 1  # a column missing or reshaped: it would count as missing values, or not line up
        return
    room = BATCH_ROWS - stream.profile.rows
    with torch.no_grad(), torch._C.DisableTorchFunction():  # copies: nothing the script holds is touched
        add_chunk(stream.profile, {n: t[:room].detach().to("cpu", torch.float64).numpy() for n, t in tensors.items()})
