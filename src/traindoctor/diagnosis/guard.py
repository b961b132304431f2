"""The guard that proves a probe's copy of the model is independent of the original (measure/copies.py
makes the copies): `guarded` stops a forward *before* any module or tensor of the original is used,
e.g. one reached through a global that no copy can re-bind.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

import torch
from torch import nn
from torch.overrides import TorchFunctionMode


class ReachedOriginal(RuntimeError):
    """A probe's forward on a copy was about to use the original model; the message names what."""


class _TensorWatch(TorchFunctionMode):
    def __init__(self, tensors: dict[int, str]):
        super().__init__()
        self.tensors = tensors

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        for a in (*args, *kwargs.values()):
            for t in (a if isinstance(a, (list, tuple)) else (a,)):
                if isinstance(t, torch.Tensor) and id(t) in self.tensors:
                    raise ReachedOriginal(f"tensor `{self.tensors[id(t)]}`")
        return func(*args, **kwargs)


@contextmanager
def guarded(original: nn.Module, tensors: bool = False, allowed: Any = None) -> Iterator[None]:
    """Raise ReachedOriginal before any module of `original` runs (and, with `tensors`, before any op
    reads one of its parameters or buffers: costly per op, so only for the one forward that checks).
    `allowed`: a module the caller calls as given (a loss_fn that is a submodule of the model)."""
    exempt = {id(m) for m in allowed.modules()} if isinstance(allowed, nn.Module) else set()
    modules = {id(m): n or type(original).__name__ for n, m in original.named_modules() if id(m) not in exempt}

    def stop(module: nn.Module, args: Any) -> None:
        if id(module) in modules:
            raise ReachedOriginal(f"module `{modules[id(module)]}`")

    watch = _TensorWatch({id(t): n for n, t in [*original.named_parameters(), *original.named_buffers()]}) \
        if tensors else nullcontext()
    handle = nn.modules.module.register_module_forward_pre_hook(stop)  # process-wide: removed whatever happens
    try:
        with watch:
            yield
    finally:
        handle.remove()
