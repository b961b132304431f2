"""What batch-norm layers normalize over, in sampled training calls of a model.

A batch-norm layer in training mode normalizes each channel over its input's batch axis (axis 0) and
every axis after the channels: N*L elements of an (N, C, L) input, N*H*W of an (N, C, H, W) one. Whether
those elements come from one sample of the data or from many decides what the layer computes
(judge/norm_batches.py). For a sampled training call, a global forward pre-hook armed for that call only
(as the recorder's input scale is measured) sees every batch-norm layer of the model: its mode, how often
it ran and the shape it got. Nothing is computed on the tensors in training mode: shapes only. A layer in
eval mode normalizes by its running statistics instead: whether they describe the data it gets is measured
(`output_scale`), as the scale its output has per channel.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .stats import batch_tensors

_BATCH_NORM = nn.modules.batchnorm._BatchNorm  # BatchNorm1d/2d/3d, SyncBatchNorm, the lazy ones
_FIRST_CALLS = 3  # training calls always sampled; then one in _SAMPLE_EVERY, drawn (a stride would alias with
_SAMPLE_EVERY = 8  # an epoch's length: a partial batch every other call would be every sampled one)
_KEPT = 256  # sampled calls kept per model


@dataclass
class LayerCall:
    """One batch-norm layer in one sampled training call of its model."""

    layer: str
    kind: str  # its class
    calls: int  # times it ran in training mode in this model call
    batch: int  # the largest size of its input's batch axis
    per_channel: int  # the fewest elements one call reduced per channel
    shape: list[int]  # the input shape of its first call

    def samples(self, model_batch: int | None) -> int:
        """Samples of the model's batch one call's statistics cover: one when the model got one sample (whatever
        the layer's batch axis holds then — the points of one cloud, the tokens of one sequence — comes from it),
        or when the layer ran once per sample of the model's batch on something else (a model looping over its
        samples, each a set of points); else its batch axis. A layer run once per step of a sequence sees the
        whole batch at each: its batch axis then holds the model's batch, and counts."""
        if model_batch == 1:
            return 1
        if model_batch and model_batch >= 2 and self.calls == model_batch and self.batch != model_batch:
            return 1
        return self.batch


@dataclass
class NormBatches:
    """The sampled training calls of one model that has batch-norm layers: per call, the model's batch size
    (the leading size of its first tensor argument, or the length of a list of tensors) and its layers."""

    calls: list[tuple[int | None, list[LayerCall]]] = field(default_factory=list)
    location: dict[str, Any] = field(default_factory=dict)  # the training call of the first sample
    # Per layer run in eval mode in a sampled training call: its output's scale there (output_scale), one per
    # call, and whether its running statistics were still their initial mean 0 / variance 1 then.
    eval_scales: dict[str, list[float]] = field(default_factory=dict)
    never_fitted: dict[str, bool] = field(default_factory=dict)


class Sampler:
    """Arms the hook for sampled training calls, one model call at a time, in the thread that made it."""

    def __init__(self) -> None:
        self._draw = random.Random(0)  # its own generator: the script's random state is not touched
        self._handle: Any = None
        self._call: tuple[int, int, int | None] | None = None  # the armed call: model id, thread, model batch
        self._seen: dict[int, list[tuple[str, str, bool, torch.Size]]] = {}
        self._eval: dict[str, tuple[float, bool]] = {}  # per layer in eval mode: its first call's output scale

    def arm(self, module: nn.Module, n_call: int, args: tuple, kwargs: dict) -> bool:
        """Watch this training call of `module` (its `n_call`-th) if it is sampled: True when armed."""
        thread = threading.get_ident()
        if self._call is not None and self._call[1] != thread:  # another thread's call is watched
            return False
        self.disarm()  # armed here still: that call raised before it returned
        if hasattr(module, "_orig_mod"):  # torch.compile'd: a hook would be traced into its graph
            return False
        if n_call > _FIRST_CALLS and self._draw.random() * _SAMPLE_EVERY >= 1:
            return False
        names = {id(m): n for n, m in module.named_modules() if isinstance(m, _BATCH_NORM)}
        seen = self._seen

        def hook(m: nn.Module, inputs: tuple) -> None:
            if id(m) in names and threading.get_ident() == thread and inputs and isinstance(inputs[0], torch.Tensor):
                seen.setdefault(id(m), []).append((names[id(m)], type(m).__name__, m.training, inputs[0].shape))
                if not m.training and m.running_mean is not None and names[id(m)] not in self._eval:
                    scale = output_scale(m, inputs[0])
                    if scale is not None:
                        self._eval[names[id(m)]] = (scale, unfitted(m))

        self._handle = nn.modules.module.register_module_forward_pre_hook(hook)
        self._call = (id(module), thread, model_batch(args, kwargs))
        return True

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.remove()
        self._handle, self._call = None, None
        self._seen.clear()
        self._eval.clear()

    def collect(self, module: nn.Module, into: NormBatches) -> None:
        """A model call returned: if it was the one watched, what its layers ran on in training mode, and the output
        scale of those in eval mode, go to `into`."""
        if self._call is None or self._call[:2] != (id(module), threading.get_ident()):
            return
        batch = self._call[2]
        layers = []
        for calls in self._seen.values():
            shapes = [s for *_, training, s in calls if training and len(s) >= 2]
            if shapes:
                layers.append(LayerCall(calls[0][0], calls[0][1], len(shapes), max(s[0] for s in shapes),
                                        min(s.numel() // s[1] for s in shapes), list(shapes[0])))
        for name, (scale, fresh) in self._eval.items():
            if len(into.eval_scales.setdefault(name, [])) < _KEPT:
                into.eval_scales[name].append(scale)
            into.never_fitted.setdefault(name, fresh)
        self.disarm()
        if len(into.calls) < _KEPT:
            into.calls.append((batch, layers))


def model_batch(args: tuple, kwargs: dict) -> int | None:
    """The model's batch size as the script passed it: the length of a list of tensors given first whose
    leading sizes differ (samples of different sizes, as bags or point clouds come); else the largest leading
    size of its tensors (a tuple of inputs holds one batch each; a (1, D) condition beside the batch does not
    make it one sample; a time-first input over-counts, which only keeps the rule silent)."""
    first = args[0] if args else next(iter(kwargs.values()), None)
    if (isinstance(first, (list, tuple)) and all(isinstance(t, torch.Tensor) and t.dim() for t in first)
            and len({t.shape[0] for t in first}) > 1):
        return len(first)
    sizes = [int(t.shape[0]) for _, t in batch_tensors(args, kwargs) if t.dim() >= 1]
    return max(sizes) if sizes else None


def output_scale(layer: nn.Module, x: torch.Tensor) -> float | None:
    """The scale of what a batch-norm layer in eval mode outputs for the batch `x`, before its affine: per
    channel the root mean square of (x - running_mean) / sqrt(running_var + eps), whose square is
    ((batch mean - running mean)^2 + batch variance) / running variance — 1 when the running statistics
    describe the batch, the data's own scale when they were never fitted (mean 0, variance 1). The geometric
    mean over channels: a typical channel, in units of its normalized scale. None when it cannot be read (too
    few elements per channel, nothing finite)."""
    if not x.is_floating_point() or x.dim() < 2 or x.numel() < 2 * x.shape[1]:
        return None
    with torch.no_grad(), torch._C.DisableTorchFunction():  # no recorded reads: a loss head may be on tape
        v = x.detach().float().transpose(0, 1).reshape(x.shape[1], -1)
        mean, var = v.mean(1), v.var(1, unbiased=False)
        rm, rv = layer.running_mean.float(), layer.running_var.float()
        ms = ((mean - rm) ** 2 + var) / (rv + layer.eps)
        logs = ms[torch.isfinite(ms) & (ms > 0)].log()
        return float((logs.mean() / 2).exp()) if logs.numel() else None


def unfitted(layer: nn.Module) -> bool:
    """Whether a batch-norm layer's running statistics are still their initial mean 0 and variance 1."""
    with torch.no_grad(), torch._C.DisableTorchFunction():
        return bool((layer.running_mean == 0).all() and (layer.running_var == 1).all())
