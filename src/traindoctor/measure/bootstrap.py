"""Which samples of a loss target bootstrap from a model's no-grad output (a TD target's r + γ·Q(s')), and
the 0/1 flags the step's batch carries: judge/targets.py asks whether the bootstrap stops where a flag marks
a transition terminal.

On a few sampled steps the no-grad outputs of the models are returned as forward-mode dual tensors whose
tangent is their own value: the target's tangent is then, sample by sample, exactly the part of the target
that came from them (γ·(1 - done)·max Q(s'), for any chain of affine and selecting ops — max, gather,
min of two critics, an expected value under a policy), and the rest (target - tangent) is the reward part.
Values are unchanged; the dual level is left at the loss call, the backward or the step, whichever comes
first, so no tangent outlives the step. The flags are read from the script's own variables (the frames of
the no-grad call and of the loss call, and one level into tuples, lists, dicts and namedtuples): 1-D
boolean or floating arrays of the target's length holding only 0 and 1 (integer arrays are actions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Callable

import torch
import torch.autograd.forward_ad as fwAD

from .frames import user_frame

_EVERY = 10  # steps between probes (steps 10, 20, ...)
_PROBES = 40  # windows opened at most (a probe costs a forward-mode pass through the target's ops)
_MEMBERS = 16  # a container with more items is no batch


@dataclass
class Observation:
    step: int
    boot: torch.Tensor  # bool per sample: its target took something from the no-grad output
    reward: torch.Tensor  # bool per sample: the rest of its target (target - bootstrap part) is not 0
    flags: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> bool per sample
    location: dict[str, Any] = field(default_factory=dict)


class Bootstrap:
    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.opened = 0
        self.fed: dict[int, int] = {}  # model id -> probes whose loss target (or loss) took a part from its outputs
        self._level: int | None = None
        self._frames: list[FrameType] = []
        self._sources: set[int] = set()  # the models whose outputs are dual in the open probe
        self._step = -1

    def due(self, step: int) -> bool:
        """Whether `arm` may probe at this step: a probe is open, or one opens here."""
        return self._level is not None or not (step < 1 or step % _EVERY or step == self._step
                                               or self.opened >= _PROBES)

    def arm(self, module: Any, output: Any, step: int) -> Any:
        """A no-grad model output: returned as a dual tensor on a sampled step, else unchanged."""
        if not isinstance(output, torch.Tensor) or not output.is_floating_point() or not 1 <= output.dim() <= 2:
            return output
        if self._level is None:
            if step < 1 or step % _EVERY or step == self._step or self.opened >= _PROBES:
                return output
            if fwAD._current_level >= 0:  # the script's own forward AD: levels do not nest
                return output
            self._level, self._step = fwAD.enter_dual_level(), step
            self.opened += 1
        try:
            dual = fwAD.make_dual(output, output.detach().clone(), level=self._level)
        except RuntimeError:  # a tensor forward AD does not take (a subclass): no probe of it
            return output
        frame = user_frame()
        if frame is not None and all(frame is not f for f in self._frames):
            self._frames.append(frame)
        self._sources.add(id(module))
        return dual

    def loss_target(self, target: Any, where: Callable[[], dict[str, Any]]) -> None:
        """A loss function's target while a probe is open: what of it came from the dual outputs."""
        if self._level is None:
            return
        try:
            if isinstance(target, torch.Tensor):
                primal, tangent = fwAD.unpack_dual(target, level=self._level)
                if tangent is not None and bool((tangent != 0).any()):
                    self._fed()
                if tangent is not None and (primal.dim() == 1 or (primal.dim() == 2 and primal.shape[1] == 1)):
                    self._observe(primal.detach().reshape(-1), tangent.detach().reshape(-1), where)
        finally:
            self.close()

    def backward(self, loss: Any) -> None:
        """A backward while a probe is open: no loss function took a target, the loss was written by hand;
        did it take a part from the dual outputs?"""
        if self._level is not None and isinstance(loss, torch.Tensor):
            tangent = fwAD.unpack_dual(loss, level=self._level).tangent
            if tangent is not None and bool((tangent != 0).any()):
                self._fed()
        self.close()

    def _fed(self) -> None:
        for key in self._sources:
            self.fed[key] = self.fed.get(key, 0) + 1

    def _observe(self, target: torch.Tensor, part: torch.Tensor, where: Callable[[], dict[str, Any]]) -> None:
        if not (bool(torch.isfinite(target).all()) and bool(torch.isfinite(part).all())):
            return  # values blown up: 0 · inf is NaN, and a flag that stops the bootstrap would seem not to
        boot = (part != 0).cpu()
        if not boot.any():
            return
        frame = user_frame()
        frames = self._frames + ([frame] if frame is not None else [])
        flags: dict[str, torch.Tensor] = {}
        for f in frames:
            for name, value in list(f.f_locals.items()):
                for key, x in _members(name, value):
                    flag = _flag(x, len(target))
                    if flag is not None:
                        flags.setdefault(key, flag)
        self.observations.append(Observation(self._step, boot, ((target - part) != 0).cpu(), flags, where()))

    def close(self) -> None:
        if self._level is not None:
            fwAD.exit_dual_level(level=self._level)
            self._level, self._frames, self._sources = None, [], set()


def _members(name: str, value: Any) -> list[tuple[str, Any]]:
    """The value, and the items of a small tuple, list, dict or namedtuple (a sampled batch)."""
    out = [(name, value)]
    if isinstance(value, dict) and len(value) <= _MEMBERS:
        out += [(f"{name}[{k!r}]", v) for k, v in value.items()]
    elif isinstance(value, (tuple, list)) and len(value) <= _MEMBERS:
        fields = getattr(value, "_fields", None)
        out += [(f"{name}.{fields[i]}" if fields else f"{name}[{i}]", v) for i, v in enumerate(value)]
    return out


def _flag(x: Any, n: int) -> torch.Tensor | None:
    """x as a bool tensor when it is a 0/1 flag per sample (bool or floating, 1-D or (n, 1)), else None."""
    if type(x).__module__ == "numpy" and hasattr(x, "dtype"):
        if x.dtype.kind not in "bf":
            return None
        x = torch.from_numpy(x.copy())
    if not isinstance(x, torch.Tensor) or not (x.dtype == torch.bool or x.is_floating_point()):
        return None
    x = fwAD.unpack_dual(x).primal  # a variable holding the target itself is dual
    if x.shape not in ((n,), (n, 1)):
        return None
    x = x.detach().reshape(-1).cpu()
    if x.dtype != torch.bool and not bool(((x == 0) | (x == 1)).all()):
        return None
    return x != 0
