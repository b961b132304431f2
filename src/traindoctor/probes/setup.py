"""What a probe needs to know about the user's model: how to call it, get a loss, and optimize.

`Setup` normalizes the accepted forms of `checkup(model, batch, loss_fn, optimizer)` once, so
each probe only says what it measures. Every method works on the model it is given (a copy).
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from ..record.stats import batch_tensors, first_tensor


class SetupError(ValueError):
    """The model, batch or loss could not be used as given; the message says what to pass."""


class NotApplicable(Exception):
    """Raised by a probe that does not apply to this model; the message says why, in one line."""


DEFAULT_LR = 3e-4


def _optimizer_factory(optimizer: Any) -> Callable[[list], torch.optim.Optimizer]:
    if optimizer is None:
        return lambda params: torch.optim.AdamW(params, lr=DEFAULT_LR)
    if isinstance(optimizer, torch.optim.Optimizer):
        cls = type(optimizer)
        accepted = inspect.signature(cls.__init__).parameters
        # `defaults` can hold internal keys the constructor does not take (AdamW: decoupled_weight_decay)
        settings = {k: v for k, v in optimizer.defaults.items() if k in accepted}
        settings["lr"] = float(optimizer.param_groups[0]["lr"])  # the current LR, after any schedule
        return lambda params: cls(params, **settings)
    if callable(optimizer):
        return optimizer
    raise SetupError(f"optimizer must be a torch.optim.Optimizer or a factory params -> optimizer, not {type(optimizer).__name__}")


def _clone(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_clone(v) for v in obj)
    return obj


@dataclass
class Setup:
    model: nn.Module
    inputs: Any  # tensor, tuple of tensors, or dict of keyword arguments
    targets: Any  # None when the model computes its own loss
    loss_fn: Callable | None
    make_optimizer: Callable[[list], torch.optim.Optimizer]

    @classmethod
    def build(cls, model: Any, batch: Any, loss_fn: Any = None, optimizer: Any = None) -> "Setup":
        if not isinstance(model, nn.Module):
            raise SetupError(f"model must be a torch.nn.Module, not {type(model).__name__}")
        if isinstance(batch, dict):
            inputs, targets = batch, None
        elif isinstance(batch, (tuple, list)) and len(batch) == 2:
            inputs, targets = batch
        else:
            raise SetupError("batch must be (inputs, targets) or a dict of keyword arguments for a model that computes its own loss")
        if loss_fn is not None and not callable(loss_fn):
            raise SetupError(f"loss_fn must be a module or a callable (output, targets) -> loss, not {type(loss_fn).__name__}")
        if not any(True for _ in batch_tensors((inputs,), {})):
            raise SetupError("the batch's inputs hold no tensor")
        return cls(model, _clone(inputs), _clone(targets), loss_fn, _optimizer_factory(optimizer))

    # ── calling the model ───────────────────────────────────────────────────
    def forward(self, model: nn.Module, inputs: Any = None) -> Any:
        inputs = self.inputs if inputs is None else inputs
        if isinstance(inputs, dict):
            return model(**inputs)
        if isinstance(inputs, (tuple, list)):
            return model(*inputs)
        return model(inputs)

    def loss(self, output: Any, targets: Any = None) -> torch.Tensor:
        targets = self.targets if targets is None else targets
        if self.loss_fn is not None:
            loss = self.loss_fn(output, targets)
        else:
            loss = _own_loss(output)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise SetupError("the loss is not a scalar tensor: pass loss_fn=(output, targets) -> scalar loss")
        return loss

    def step_loss(self, model: nn.Module) -> tuple[Any, torch.Tensor]:
        out = self.forward(model)
        return out, self.loss(out)

    # ── the batch ───────────────────────────────────────────────────────────
    @property
    def batch_size(self) -> int:
        return next(t for _, t in batch_tensors((self.inputs,), {})).shape[0]

    def subset(self, n: int) -> "Setup":
        """The same setup on the first n samples (tensors whose first dim is the batch)."""
        B = self.batch_size

        def take(obj: Any) -> Any:
            if isinstance(obj, torch.Tensor):
                return obj[:n] if obj.dim() and obj.shape[0] == B else obj
            if isinstance(obj, dict):
                return {k: take(v) for k, v in obj.items()}
            if isinstance(obj, (list, tuple)):
                return type(obj)(take(v) for v in obj)
            return obj

        return Setup(self.model, take(self.inputs), take(self.targets), self.loss_fn, self.make_optimizer)

    def replace_inputs(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        """The inputs with every floating or integer tensor passed through fn (labels untouched)."""
        def walk(obj: Any, key: str = "") -> Any:
            if isinstance(obj, torch.Tensor):
                return obj if key in ("labels", "attention_mask") else fn(obj)
            if isinstance(obj, dict):
                return {k: walk(v, k) for k, v in obj.items()}
            if isinstance(obj, (list, tuple)):
                return type(obj)(walk(v) for v in obj)
            return obj
        return walk(self.inputs)

    def copy_model(self, train: bool = True) -> nn.Module:
        try:
            replica = copy.deepcopy(self.model)
        except Exception as exc:
            raise SetupError(f"the model cannot be deep-copied ({type(exc).__name__}: {exc}); probes never touch the original") from exc
        return replica.train(train)


def _own_loss(output: Any) -> torch.Tensor:
    """The loss a model computed itself: `.loss`, ['loss'], or the scalar in a returned tuple."""
    loss = getattr(output, "loss", None) if not isinstance(output, dict) else output.get("loss")
    if isinstance(loss, torch.Tensor):
        return loss
    if isinstance(output, (tuple, list)):
        scalars = [t for t in output if isinstance(t, torch.Tensor) and t.dim() == 0]
        if len(scalars) == 1:
            return scalars[0]
    raise SetupError("the model returned no loss: pass loss_fn=(output, targets) -> loss, or a batch with labels "
                     "for a model that computes its own loss")


def main_output(output: Any) -> torch.Tensor | None:
    t = first_tensor(output)
    return t if t is not None and t.dim() > 0 else None

