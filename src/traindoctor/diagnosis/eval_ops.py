"""What an eval-mode forward runs that belongs to training mode, and what it samples by design.

Evaluation must not depend on training-mode behaviour left on: dropout that ignores eval()
(`F.dropout(x, p)`, whose `training` defaults to True; a dropout module whose forward ignores
`self.training`), batch statistics where running ones exist (`F.batch_norm(..., training=True)`).
A model may also sample on purpose in eval (pytorch/examples' VAE reparameterizes with randn_like
because its test loss is a sampled ELBO; a diffusion step adds noise; a policy samples its action):
that is not a fault. The two are told apart by the operations the forward runs, seen at the
torch-function level, where `F.dropout` is one call with its arguments, not the Bernoulli draw inside:

- training form: a dropout-family function with training on and p > 0, attention with dropout_p > 0,
  rrelu in training form, batch or instance norm on the batch's statistics although running
  statistics are given (without running statistics the batch's are the only ones: by design);
- hand-written dropout: a random mask of constant rate (`bernoulli_(p)` with a constant p, or a
  uniform draw compared with a constant) multiplied into a tensor;
- sampling: every other random op (randn, rand, normal, multinomial, randint, randperm, bernoulli of
  computed probabilities, ...).
"""

from __future__ import annotations

import weakref
from collections import Counter
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

Form = Callable[[tuple, dict], "str | None"]  # the call's training form, described; None: eval form


def _arg(args: tuple, kwargs: dict, name: str, index: int, default: Any = None) -> Any:
    """An argument given by keyword or by position (torch's builtins have no signature to bind)."""
    if name in kwargs:
        return kwargs[name]
    return args[index] if index < len(args) else default


def _dropout(flag: str, default: bool | None) -> Form:
    """F.dropout(input, p=0.5, training=True, ...) and torch.dropout(input, p, train); native_dropout's
    train=None means on."""
    def form(args: tuple, kwargs: dict) -> str | None:
        p, on = _arg(args, kwargs, "p", 1, 0.5), _arg(args, kwargs, flag, 2, default)
        return f"(p={p:g}, {flag}=True)" if (on is None or on) and p > 0 else None
    return form


def _attention(p_index: int, flag_index: int | None) -> Form:
    def form(args: tuple, kwargs: dict) -> str | None:
        p = _arg(args, kwargs, "dropout_p", p_index, 0.0)
        on = _arg(args, kwargs, "training", flag_index, True) if flag_index is not None else True
        return f"(dropout_p={p:g})" if on and p > 0 else None
    return form


def _rrelu(args: tuple, kwargs: dict) -> str | None:
    return "(training=True): a random slope per element" if _arg(args, kwargs, "training", 3, False) else None


def _batch_stats(mean_index: int, flag: str, default: bool) -> Form:
    """batch_norm / instance_norm normalizing with the batch's statistics while running ones are given."""
    def form(args: tuple, kwargs: dict) -> str | None:
        running = _arg(args, kwargs, "running_mean", mean_index)
        if running is None or not _arg(args, kwargs, flag, 5, default):
            return None
        return f"({flag}=True) although running statistics are given: it normalizes with the batch's own statistics"
    return form


_TRAINING_FORM: dict[Any, tuple[str, Form]] = {
    **{f: (f"F.{f.__name__}", _dropout("training", True)) for f in (
        F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.feature_alpha_dropout)},
    **{f: (f"torch.{f.__name__}", _dropout("train", None)) for f in (
        torch.dropout, torch.dropout_, torch.feature_dropout, torch.feature_dropout_, torch.alpha_dropout,
        torch.alpha_dropout_, torch.feature_alpha_dropout, torch.feature_alpha_dropout_, torch.native_dropout)},
    F.scaled_dot_product_attention: ("F.scaled_dot_product_attention", _attention(4, None)),
    F.multi_head_attention_forward: ("F.multi_head_attention_forward", _attention(10, 13)),
    F.rrelu: ("F.rrelu", _rrelu), F.rrelu_: ("F.rrelu_", _rrelu), torch.rrelu: ("torch.rrelu", _rrelu),
    torch.rrelu_: ("torch.rrelu_", _rrelu),
    F.batch_norm: ("F.batch_norm", _batch_stats(1, "training", False)),
    torch.batch_norm: ("torch.batch_norm", _batch_stats(3, "training", False)),
    F.instance_norm: ("F.instance_norm", _batch_stats(1, "use_input_stats", True)),
    torch.instance_norm: ("torch.instance_norm", _batch_stats(3, "use_input_stats", True)),
}
RANDOM = frozenset({
    "rand", "rand_like", "randn", "randn_like", "randint", "randint_like", "randperm", "normal", "normal_",
    "uniform_", "bernoulli", "bernoulli_", "multinomial", "poisson", "binomial", "exponential_", "geometric_",
    "cauchy_", "log_normal_", "random_", "_standard_gamma", "_sample_dirichlet", "gumbel_softmax"})
_UNIFORM = frozenset({"rand", "rand_like", "uniform_"})
_COMPARE = frozenset({"gt", "lt", "ge", "le", "greater", "less", "greater_equal", "less_equal",
                      "__gt__", "__lt__", "__ge__", "__le__"})
_MUL = frozenset({"mul", "mul_", "multiply", "__mul__", "__rmul__", "__imul__"})
_LIKE = frozenset({"expand_as", "view_as", "reshape_as", "type_as", "to"})  # the other tensor gives a shape or type
HAND_WRITTEN = "multiplied a random mask of constant rate into a tensor (a hand-written dropout)"


def _constant_rate(name: str, args: tuple, kwargs: dict) -> bool:
    """A Bernoulli draw whose probability is one constant: a dropout mask, not a sample of computed probabilities."""
    p = _arg(args, kwargs, "p", 1)
    if p is None:
        p = args[0] if name == "bernoulli" else 0.5  # bernoulli(probs); bernoulli_() draws at 0.5
    return not isinstance(p, torch.Tensor) or bool((p == p.reshape(-1)[0]).all())


def _tensors(args: tuple, kwargs: dict) -> list[torch.Tensor]:
    flat = [a for v in (*args, *kwargs.values()) for a in (v if isinstance(v, (list, tuple)) else (v,))]
    return [t for t in flat if isinstance(t, torch.Tensor)]


class EvalOps(TorchFunctionMode):
    """Records, during one forward of `model`, the training-form calls and the sampling ops, by module."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.names = {id(m): n or type(model).__name__ for n, m in model.named_modules()}
        self.classes = {n or type(model).__name__: type(m).__name__ for n, m in model.named_modules()}
        self.stack: list[str] = [type(model).__name__]
        self.training: Counter[tuple[str, str]] = Counter()  # (what it did, module path) -> calls
        self.sampling: Counter[tuple[str, str]] = Counter()
        self._masks: dict[int, weakref.ref] = {}  # constant-rate random masks, and the uniform draws they come from
        self._uniform: dict[int, weakref.ref] = {}

    def __enter__(self) -> "EvalOps":
        def push(module: nn.Module, args: Any) -> None:
            self.stack.append(self.names.get(id(module), type(module).__name__))

        def pop(module: nn.Module, args: Any, out: Any) -> None:
            self.stack.pop()

        # process-wide hooks: removed whatever happens, also when entering the mode fails
        self._hooks = [nn.modules.module.register_module_forward_pre_hook(push)]
        try:
            self._hooks.append(nn.modules.module.register_module_forward_hook(pop))
            return super().__enter__()
        except BaseException:
            self._remove_hooks()
            raise

    def __exit__(self, *exc: Any) -> None:
        try:
            self._remove_hooks()
        finally:
            super().__exit__(*exc)

    def _remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name, where = getattr(func, "__name__", ""), self.stack[-1]
        label, form = _TRAINING_FORM.get(func, (None, None))
        described = form(args, kwargs) if form else None
        if described:
            self.training[(f"ran {label}{described}", where)] += 1
        elif label is None and name in RANDOM:
            self.sampling[(name, where)] += 1
            if name in ("bernoulli", "bernoulli_") and _constant_rate(name, args, kwargs):
                self._mark(self._masks, out)
            elif name in _UNIFORM:
                self._mark(self._uniform, out)
        elif label is None:
            self._follow(name, _tensors(args, kwargs), out, where)
        return out

    def _follow(self, name: str, tensors: list[torch.Tensor], out: Any, where: str) -> None:
        """Masks and uniform draws through the ops that keep them what they are (a cast, a view, a scale),
        a uniform draw compared with a constant into a mask, and a mask multiplied into another tensor."""
        if not tensors:
            return
        first, rest = tensors[0], tensors[1:]
        if name in _COMPARE and not rest and self._is(self._uniform, first):
            self._mark(self._masks, out)
        elif name in _MUL and len(tensors) == 2 and self._is(self._masks, first) != self._is(self._masks, rest[0]):
            self.training[(HAND_WRITTEN, where)] += 1
        else:
            for kind in (self._masks, self._uniform):
                if self._is(kind, first) and (not rest or name in _LIKE or all(self._is(kind, t) for t in rest)):
                    self._mark(kind, out)

    @staticmethod
    def _is(kind: dict[int, weakref.ref], t: torch.Tensor) -> bool:
        ref = kind.get(id(t))
        return ref is not None and ref() is t

    @staticmethod
    def _mark(kind: dict[int, weakref.ref], out: Any) -> None:
        if isinstance(out, torch.Tensor):
            kind[id(out)] = weakref.ref(out)

    def shown(self, path: str) -> str:
        cls = self.classes.get(path, path)
        return f"`{path}`" if cls == path else f"`{path}` ({cls})"

    def listed(self, counter: Counter) -> list[dict[str, Any]]:
        return [{"op": what, "module": where, "calls": n} for (what, where), n in counter.most_common()]
