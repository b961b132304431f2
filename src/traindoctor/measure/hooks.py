"""Install and remove the global, observe-only hooks that feed a Recorder.

What is patched, and why this way:
- `nn.Module.__call__`: a thin wrapper notes whether a model call is under way, to find the top-level
  (model) calls and their arguments, keyword arguments included. Global forward hooks would
  not see keyword arguments and would push every module call onto torch's slow path.
- `torch.autograd.backward`: `Tensor.backward` calls it, so every backward is seen once, and the autograd
  errors it raises (a graph freed, a saved tensor modified) are read before they go on to the script.
- `Optimizer.zero_grad`, `Module.zero_grad`: to order zero_grad against backward and step.
- `Optimizer.__init__`: whether any optimizer exists (else the budget counts backward passes).
- global optimizer step pre/post hooks (torch API); a closure passed to `step` is wrapped so
  gradients are measured after it ran (Lightning steps through closures).
- `clip_grad_norm_`, to keep the gradient norm from before clipping.
- `Tensor.view`, `Tensor.reshape`, `torch.reshape`: a call of the script's own, outside the models, that
  reorders dimensions (measure/views.py).
- `LRScheduler.step`, `DataLoader.__iter__`, and the loss functions of `torch.nn.functional`.
- torch.distributions' `__init__`/`sample`/`rsample`/`log_prob`, `multinomial` and `gather`: the actions a policy
  draws and those its loss trains (measure/actions.py).
- `torch.tanh`/`sigmoid`, their Tensor methods and `F.tanh`/`F.sigmoid`: the script's own calls before its first
  step, saturated or not at the weights it initialised (measure/squashes.py).
- `multiprocessing`'s `Process.start`: training in another process is invisible here, and the
  report says so when nothing was seen.
Everything is restored by `uninstall`, also after errors. The module depth is per thread.
"""

from __future__ import annotations

import functools
import inspect
import multiprocessing.process
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
import torch.autograd.forward_ad as forward_ad
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from torch.utils.data import DataLoader

from .actions import watch_actions
from .clipping import watch_clipping
from .views import watch_views
from .squashes import watch_squashes
from .steps import when_grads_final
from .losses import LOSS_FUNCTIONS
from .recorder import Recorder


@contextmanager
def installed(rec: Recorder) -> Iterator[Recorder]:
    restore: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name] if name in getattr(owner, "__dict__", {}) else getattr(owner, name)
        restore.append((owner, name, original))
        setattr(owner, name, make(original))

    def call_wrapper(original):
        @functools.wraps(original)
        def __call__(module, *args, **kwargs):
            lane = rec.lane
            if lane.depth or not rec.active:  # a submodule, or paused: nothing to record
                return original(module, *args, **kwargs)
            rec.on_root_call(module, args, kwargs)
            lane.depth, lane.outer = 1, module
            try:
                out = original(module, *args, **kwargs)
            finally:
                lane.depth, lane.outer = 0, None
            if rec.active:  # its outputs are no data for another model, even before that one is first called
                rec.on_model_output(module, out)
            if rec.active and not torch.is_grad_enabled():  # a bootstrap's source, perhaps (measure/bootstrap.py)
                probed = rec.on_nograd_output(module, out)
                out = out if probed is None else probed
            if rec.active and rec.tape_due(module):
                rec.on_root_return(module, out)
            return out
        return __call__

    def backward_wrapper(original):
        @functools.wraps(original)
        def backward(tensors, *args, **kwargs):
            if rec.active:
                rec.on_backward(tensors)
            try:
                out = original(tensors, *args, **kwargs)
            except RuntimeError as exc:
                if rec.active:  # read, and the script's exception raised on unchanged
                    rec.on_backward_failed(tensors, exc)
                raise
            if rec.active and not rec.optimizer_created:  # updates by hand: their direction is checked
                rec.on_backward_done(tensors)
            return out
        return backward

    def after(method: Callable[[Any], None]):
        def make(original):
            @functools.wraps(original)
            def wrapper(self, *args, **kwargs):
                out = original(self, *args, **kwargs)
                if rec.active:
                    method(self)
                return out
            return wrapper
        return make

    def before(method: Callable[[Any], None]):
        def make(original):
            @functools.wraps(original)
            def wrapper(self, *args, **kwargs):
                if rec.active:
                    method(self)
                return original(self, *args, **kwargs)
            return wrapper
        return make

    def loss_wrapper(name):
        def make(original):
            signature = inspect.signature(original)

            @functools.wraps(original)
            def wrapper(*args, **kwargs):
                out = original(*args, **kwargs)
                if rec.active and torch.is_grad_enabled():
                    rec.on_loss_call(name, signature, args, kwargs, out)
                return out
            return wrapper
        return make

    def pre_step(opt, args, kwargs):
        if not rec.active:
            return None
        rec.on_step_begin(opt)
        return when_grads_final(args, kwargs, lambda _: rec.active and rec.on_grads_ready(opt))

    def post_step(opt, args, kwargs):
        if rec.active:
            rec.on_step_end(opt)

    handles, restore_clipping, restore_views, restore_actions, restore_squashes = [], None, None, None, None
    # Forward AD's first dual tensor (measure/bootstrap.py) compiles decompositions with torch.jit, which cannot
    # compile through the patched view and reshape: loaded before them, once per process (0.4 s).
    forward_ad._maybe_load_decompositions()
    try:
        patch(nn.Module, "__call__", call_wrapper)
        patch(torch.autograd, "backward", backward_wrapper)
        patch(torch.optim.Optimizer, "__init__", after(rec.on_optimizer_created))
        patch(torch.optim.Optimizer, "zero_grad", before(rec.on_zero_grad))
        patch(nn.Module, "zero_grad", before(rec.on_zero_grad))
        patch(LRScheduler, "step", after(rec.on_scheduler_step))
        patch(DataLoader, "__iter__", before(rec.on_loader_iter))
        patch(multiprocessing.process.BaseProcess, "start", before(rec.on_process_start))
        restore_clipping = watch_clipping(lambda total: rec.active and rec.on_clip(total))
        restore_views = watch_views(rec.on_view_scramble, rec.views_wanted)
        restore_actions = watch_actions(rec, rec.actions_wanted)
        restore_squashes = watch_squashes(rec.on_squash, rec.squashes_wanted)
        for name in LOSS_FUNCTIONS:
            patch(F, name, loss_wrapper(name))
        handles.append(register_optimizer_step_pre_hook(pre_step))
        handles.append(register_optimizer_step_post_hook(post_step))
        yield rec
    finally:
        rec.lane.tape.abandon()
        rec.bootstrap.close()
        rec.norm_sampler.disarm()
        for h in handles:
            h.remove()
        if restore_clipping is not None:
            restore_clipping()
        if restore_views is not None:
            restore_views()
        if restore_actions is not None:
            restore_actions()
        if restore_squashes is not None:
            restore_squashes()
        for owner, name, original in reversed(restore):
            setattr(owner, name, original)
        rec.flush()
