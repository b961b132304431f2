"""What a probe needs to know about the user's model: how to call it, get a loss, optimize, and
which dimension of the batch holds the samples.

`Setup` normalizes the accepted forms of `checkup(model, batch, loss_fn, optimizer)` once, so each
probe only says what it measures: the batch axis is decided once (diagnosis/axis.py), a large batch
is cut to a fixed budget of samples and bytes, and copies are independent of the original
(measure/copies.py, checked by diagnosis/guard.py). Every method works on the model it is given (a copy).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
from torch import nn

from ..measure.stats import first_tensor, tensors_in
from .axis import BatchAxis, batch_dim, decide, output_layout, output_samples, pairwise_inputs, take
from ..measure.copies import independent_copy, set_mode
from .guard import ReachedOriginal, guarded
from .tree import call, tree_map


class SetupError(ValueError):
    """The model, batch or loss could not be used as given; the message says what to pass."""


class NotApplicable(Exception):
    """Raised by a probe that does not apply to this model; the message says why, in one line."""


DEFAULT_LR = 3e-4
NO_OUTPUT_SAMPLES = "the output has no dimension holding the samples"
# Memory bound of the probes: a batch above either budget is cut to its first samples along the batch
# axis (keeping at least MIN_SAMPLES), so probes cost a bounded multiple of this, whatever the batch.
BATCH_SAMPLES = 4096
BATCH_BYTES = 64 * 2**20
MIN_SAMPLES = 8


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


def metric_function(metric_fn: Any) -> Callable[[Any, Any], Any] | None:
    """The setup's optional `metric_fn(output, targets) -> number`, checked (the stuck-metric probe reads it)."""
    if metric_fn is not None and not callable(metric_fn):
        raise SetupError(f"metric_fn must be a callable (output, targets) -> number, not {type(metric_fn).__name__}")
    return metric_fn


def _hint(exc: Exception) -> str:
    """What to check, from what the error is about."""
    msg = str(exc).lower()
    if "dtype" in msg or "scalar type" in msg:
        return "check that the batch's dtype matches the model's (float32 features for float32 weights, integer ids for embeddings)"
    if "device" in msg:
        return "check that the batch is on the model's device"
    if any(w in msg for w in ("shape", "size", "dimension")):
        return "check the batch's shape against what the model's forward expects"
    return "check that the batch is what the model's forward expects"


def _bounded(inputs: Any, targets: Any, ax: BatchAxis) -> int:
    """How many samples the probes use: all of them, unless that exceeds BATCH_SAMPLES or BATCH_BYTES."""
    if ax.axis is None:
        return ax.size
    batched = [t for _, t in tensors_in((inputs, targets)) if batch_dim(t, ax.size, ax.axis) is not None]
    total = sum(t.numel() * t.element_size() for t in batched)
    by_bytes = BATCH_BYTES * ax.size // total if total else ax.size
    return min(ax.size, BATCH_SAMPLES, max(MIN_SAMPLES, by_bytes))


@dataclass
class Setup:
    model: nn.Module
    inputs: Any  # tensor, tuple of tensors, dict of keyword arguments, or tree.Call(args, kwargs)
    targets: Any  # None when the model computes its own loss
    loss_fn: Callable | None
    make_optimizer: Callable[[list], torch.optim.Optimizer]
    axis: BatchAxis
    subsampled: str | None = None  # "subsampled 4096 of 200000 samples"
    blocked: str | None = None  # why no probe can run on the model at all
    no_output_samples: str = NO_OUTPUT_SAMPLES  # why per_sample gives None, for the probes that skip on it

    @classmethod
    def build(cls, model: Any, batch: Any, loss_fn: Any = None, optimizer: Any = None,
              axis: int | None = None) -> "Setup":
        """Check the arguments, decide the batch axis (or take `axis`), bound the batch, and check that the
        model runs on it from an independent copy; a model that cannot be probed leaves `blocked` saying why."""
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
        if not any(True for _ in tensors_in(inputs)):
            raise SetupError("the batch's inputs hold no tensor")
        make_optimizer = _optimizer_factory(optimizer)
        try:
            replica: nn.Module | None = set_mode(independent_copy(model), False)
            blocked = None
        except Exception as exc:
            replica, blocked = None, (f"the model cannot be deep-copied ({type(exc).__name__}: {exc}); "
                                      "probes run on copies only, so none ran on the model")
        with guarded(model, tensors=True):  # nothing below may run or read the original
            ax = decide(replica, inputs, targets, axis)
            ax = pairwise_inputs(replica, inputs, ax)
            n = _bounded(inputs, targets, ax)
            inputs, targets = _clone(take(inputs, ax, n, rows=ax.rows)), _clone(take(targets, ax, n, fold=True))
            subsampled = f"subsampled {n} of {ax.size} samples" if n < ax.size else None
            setup = cls(model, inputs, targets, loss_fn, make_optimizer, replace(ax, size=n), subsampled, blocked)
            if replica is not None:
                setup.blocked = setup._baseline(replica)
        return setup

    # ── calling the model ───────────────────────────────────────────────────
    def forward(self, model: nn.Module, inputs: Any = None, seed: int | None = None) -> Any:
        """`seed` for forwards that are compared with each other (tree.call)."""
        return call(model, self.inputs if inputs is None else inputs, seed)

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
        return self.axis.size

    @property
    def primary(self) -> tuple[str, torch.Tensor]:
        """The first input tensor with a dimension that the outputs can read: not the `labels` a model takes to
        compute its own loss (Hugging Face's, often first in the batch), which perturbed would move no output."""
        named = [(n, t) for n, t in tensors_in(self.inputs) if t.dim() >= 1]
        return next(((n, t) for n, t in named if n.rsplit(".", 1)[-1] != "labels"), named[0])

    def need_samples(self, minimum: int) -> int:
        """The number of samples, for a probe that needs at least `minimum` of them."""
        if self.axis.axis is None:
            raise NotApplicable(f"the batch has no batch axis: {self.axis.why}")
        if self.batch_size < minimum:
            raise NotApplicable(f"the batch has {self.batch_size} sample(s); at least {minimum} are needed")
        return self.batch_size

    def per_sample(self, output: Any) -> torch.Tensor | None:
        """The model's main output with its samples along dim 0 (unflattened if the model flattened them)."""
        return output_samples(main_output(output), self.axis)

    def subset(self, n: int) -> "Setup":
        """The same setup on the first n samples along the batch axis."""
        self.need_samples(1)
        return replace(self, inputs=take(self.inputs, self.axis, n, rows=self.axis.rows), targets=take(self.targets, self.axis, n, fold=True),
                       axis=replace(self.axis, size=n))

    def replace_inputs(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        """The inputs with every floating or integer tensor passed through fn (labels untouched)."""
        return tree_map(self.inputs, lambda t, key: t if key in ("labels", "attention_mask") else fn(t))

    def _baseline(self, replica: nn.Module) -> str | None:
        """Run the eval-mode copy on the batch, and on half of it to find where the output holds the
        samples. None when it runs on its own; else why no probe can run on the model."""
        m = self.batch_size // 2 if self.axis.axis is not None else 0
        try:
            with torch.no_grad():
                out = main_output(self.forward(replica))
                if m:
                    try:
                        small = main_output(self.subset(m).forward(replica))
                    except ReachedOriginal:
                        raise
                    except Exception as exc:  # a model that breaks on fewer samples is odd-batch's finding, not a stop
                        self.axis, self.no_output_samples = _by_size(
                            out, self.axis, f"on {m} samples the model raised {type(exc).__name__}: {_first_line(exc)}")
                    else:
                        self.axis = output_layout(out, small, self.axis, m)
        except ReachedOriginal as exc:
            return (f"a copy's forward reaches the original model's {exc} (through a global, or a reference deepcopy "
                    "cannot follow), so a probe would read or change the original: no probe ran on the model")
        except Exception as exc:
            given = f"on the batch ({self.subsampled} for the probes' memory budget)" if self.subsampled else \
                "on the batch as given"
            return f"the model raised {type(exc).__name__}: {_first_line(exc)} {given}: {_hint(exc)}"
        return None

    def copy_model(self, train: bool = True) -> nn.Module:
        try:
            replica = independent_copy(self.model)
        except Exception as exc:
            raise SetupError(f"the model cannot be deep-copied ({type(exc).__name__}: {exc}); probes never touch the original") from exc
        return set_mode(replica, train)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def _by_size(out: torch.Tensor | None, ax: BatchAxis, failed: str) -> tuple[BatchAxis, str]:
    """The output layout when the model runs on the whole batch only: its one dim of the batch's size; and
    what the probes that need the layout say when there is no such dim."""
    dims = [d for d in range(out.dim()) if out.shape[d] == ax.size] if out is not None else []
    if len(dims) == 1:
        return replace(ax, out_dim=dims[0]), NO_OUTPUT_SAMPLES
    which = f"output dims {dims} all have" if dims else "no output dim has"
    return ax, f"{NO_OUTPUT_SAMPLES}: {failed}, and {which} the batch's size {ax.size}"


def _clone(obj: Any) -> Any:
    return tree_map(obj, lambda t, _: t.detach().clone())


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

