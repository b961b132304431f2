"""The batches a training script feeds, profiled as columns (measure/profile.py) so that the column rules of
`traindoctor data` (judge/columns.py) judge them in `run` and the Monitor: the model's floating inputs,
and the targets its loss functions receive.

The column rules read rows as distinct samples, and a script feeds the same ones again (epochs, one batch
on purpose): an input row is profiled the first time it is seen only, and a target batch equal to one
already seen is left out (a target row alone cannot say which sample it belongs to). Targets that the
loss itself ignores (`ignore_index`) are no labels and are left out too, and so is an input the model feeds
itself (a recurrent hidden state: its values are those of an output of the call before).

Bounded by rows and calls, not time: the first BATCH_ROWS distinct rows of each stream, looked for in the
first BATCH_CALLS calls, so the same script gives the same profile on any machine. Integer inputs are
left out (token ids and masks are indices, not measurements), and so are integer targets other than one
class label per sample (also when flattened for the loss: a view of a wider tensor), and samples wider than WIDE values (images, sequences: see `_measurement`). A
batch whose per-sample shape differs from the first one's (a sequence of another length) is skipped: its
dimensions would not line up. A failure here stops the profiling only, and says why (`failure`): never the
recording or the training around it.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .profile import WIDE, Profile, add_chunk

BATCH_ROWS = 4096  # distinct samples profiled per stream: enough for robust scales (50+) and rare-class counts
BATCH_CALLS = 512  # calls a stream looks at: a small dataset fed forever is profiled once, not at every step
# ... and an input stream stops at the first batch that brings nothing new: every sample of it was profiled,
# so the data is being seen again (a second epoch, a batch fed again) and the profile has what it will get.


@dataclass
class Stream:
    profile: Profile
    shapes: dict[str, tuple] = field(default_factory=dict)  # per column: the per-sample shape of its first batch
    seen: set[int] = field(default_factory=set)  # hashes of the rows (inputs) or batches (targets) profiled
    calls: int = 0
    skipped: int = 0  # batches left out: a column missing or reshaped
    repeated: bool = False  # an input batch brought nothing new: the data is being seen again (the next epoch)
    classes: set = field(default_factory=set)  # targets: the class counts of the calls profiled (one call site, one)

    @property
    def open(self) -> bool:
        return not self.repeated and self.profile.rows < BATCH_ROWS and self.calls < BATCH_CALLS


def _guarded(method):
    @functools.wraps(method)
    def guarded(self: "BatchColumns", *args, **kwargs) -> None:
        if self.failure is None:
            try:
                method(self, *args, **kwargs)
            except Exception as exc:
                self.failure = f"{type(exc).__name__}: {exc}"
    return guarded


@dataclass
class BatchColumns:
    inputs: dict[str, Stream] = field(default_factory=dict)  # per model name
    targets: dict[str, Stream] = field(default_factory=dict)  # per loss function
    failure: str | None = None  # why the profiling stopped
    _names: dict[type, list[str]] = field(default_factory=dict)
    _looked: dict[str, int] = field(default_factory=dict)  # calls looked at per stream, profiled or not
    _fed: dict[str, set[int]] = field(default_factory=dict)  # per model: its latest outputs' fingerprints
    _state: dict[str, set[str]] = field(default_factory=dict)  # per model: the arguments it feeds itself

    def wants(self, kind: str, name: str) -> bool:
        """Whether a call to `name` (a model for "inputs", a loss function for "targets") is still looked at:
        bounded by calls, so a stream that never profiles anything stops costing anything."""
        if self.failure is not None:
            return False
        stream = getattr(self, kind).get(name)
        return self._looked.get(f"{kind}:{name}", 0) < BATCH_CALLS and (stream is None or stream.open)

    @_guarded
    def add_inputs(self, model: str, module: torch.nn.Module, args: tuple, kwargs: dict,
                   others: list[Callable[[], torch.Tensor | None]] = ()) -> None:
        """The floating tensors of one model call, named by the forward's parameters. `others`: references to
        other models' latest outputs (a generator's samples entering a discriminator): no data, left out."""
        if not self.wants("inputs", model):
            return
        self._looked[f"inputs:{model}"] = self._looked.get(f"inputs:{model}", 0) + 1
        made = {t.untyped_storage().data_ptr() for ref in others if (t := ref()) is not None}
        names = self._parameters(module)
        named = [(names[i] if i < len(names) else f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
        fed, state = self._fed.get(model, set()), self._state.setdefault(model, set())
        new = {n for n, t in named if n not in state and _measurement(t) and _fingerprint(t) in fed}
        if new:  # the calls profiled so far took its initial value (zeros) for data: start again without it
            state |= new
            self.inputs.pop(model, None)
        chunk = {n: t for n, t in named
                 if n not in state and _measurement(t) and t.untyped_storage().data_ptr() not in made}
        if chunk:
            stream = self.inputs.setdefault(model, Stream(Profile(f"the inputs of `{model}`")))
            _add(stream, chunk, by_row=True)

    @_guarded
    def add_outputs(self, model: str, outputs: list[object]) -> None:
        """The model's outputs that could enter it as an input (`_measurement`), fingerprinted: an input with the
        values of one of its previous call's outputs is a state the model feeds itself (a recurrent hidden
        state, detached or not), no data. Values, not identity: `h = h.detach()` keeps the values only."""
        if self.wants("inputs", model):
            self._fed[model] = {_fingerprint(t) for t in outputs if _measurement(t)}

    @_guarded
    def add_target(self, loss: str, target: object, ignore_index: int | None = None, classes: int | None = None) -> None:
        """`ignore_index`: the target value the loss skips (cross_entropy's -100 by default); `classes`: how many
        classes the call's input scores (several counts: several call sites pool into this stream)."""
        if not self.wants("targets", loss):
            return
        self._looked[f"targets:{loss}"] = self._looked.get(f"targets:{loss}", 0) + 1
        if not isinstance(target, torch.Tensor) or target.dim() == 0 or target.shape[0] < 2 or target.requires_grad:
            return  # a target with a graph behind it is computed by the model, not read from the data
        if not target.is_floating_point() and (target.dim() != 1 or target.dtype == torch.bool):
            return  # token targets (N, T) and masks: the class balance is judged on one label per sample
        base = target._base
        if not target.is_floating_point() and base is not None and base.dim() > 1 and base[0].numel() > 1:
            return  # the same, flattened for the loss (a mask's pixels, a sequence's tokens): several per sample
        if target[0].numel() > WIDE:
            return  # a dense target (a mask, an image): as for inputs, nothing per dimension to judge
        if ignore_index is not None and not target.is_floating_point():
            target = target[target != ignore_index]
            if len(target) < 2:
                return
        stream = self.targets.setdefault(loss, Stream(Profile(f"the targets of `{loss}`")))
        stream.classes.add(classes)
        _add(stream, {"target": target}, by_row=False)

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
    """A batched floating tensor of features: samples along its first axis, at least two of them, each of at
    most WIDE values. A wider sample (an image, a sequence) the column rules could only pool per channel, where
    they find nothing the input-scale rules do not, at a cost that grows with the pixels."""
    return (isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() >= 2 and t.shape[0] >= 2
            and t[0].numel() <= WIDE)


def _fingerprint(t: torch.Tensor) -> int:
    with torch.no_grad(), torch._C.DisableTorchFunction():
        return hash((tuple(t.shape), t.detach().to("cpu", torch.float64).numpy().tobytes()))


def _add(stream: Stream, tensors: dict[str, torch.Tensor], by_row: bool) -> None:
    stream.calls += 1
    known = set(stream.profile.layouts)
    shapes = {name: tuple(t.shape[1:]) for name, t in tensors.items()}
    if (known and set(tensors) != known) or any(stream.shapes.setdefault(n, s) != s for n, s in shapes.items()):
        stream.skipped += 1  # a column missing or reshaped: it would count as missing values, or not line up
        return
    with torch.no_grad(), torch._C.DisableTorchFunction():  # copies: nothing the script holds is touched
        chunk = {n: t.detach().to("cpu", torch.float64).numpy() for n, t in tensors.items()}
    # each row's bytes hashed in one call: equal rows, equal hashes
    rows = np.concatenate([v.reshape(len(v), -1) for v in chunk.values()], 1)
    hashes = np.array([hash(row.tobytes()) for row in rows], dtype=np.int64)
    if by_row:  # each sample once: its first appearance in this batch, if no earlier batch had it
        first = np.unique(hashes, return_index=True)[1]
        keep = np.sort(first[[int(h) not in stream.seen for h in hashes[first]]])
        keep = keep[:BATCH_ROWS - stream.profile.rows]
        stream.seen.update(int(h) for h in hashes[keep])
        stream.repeated = not len(keep)
    else:  # a batch once
        batch = hash(hashes.tobytes())
        if batch in stream.seen:  # (a target batch can be scored twice in a step: no sign of a new epoch)
            return
        stream.seen.add(batch)
        keep = np.arange(min(len(hashes), BATCH_ROWS - stream.profile.rows))
    if len(keep):
        add_chunk(stream.profile, {n: v[keep] for n, v in chunk.items()})
