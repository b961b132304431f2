"""Dead ReLU units and saturated sigmoid/tanh outputs, measured by temporary forward hooks.

Shared by checkup's `activations` probe (one forward on a copy) and the Monitor (one sampled
step every `sample_every`). Values stay on the device; callers decide when to read them.
Only `nn.ReLU`/`ReLU6`/`Sigmoid`/`Tanh` modules are seen: functional calls (`F.relu`) have no
module to hook.
"""

from __future__ import annotations

import torch
from torch import nn

RELU = (nn.ReLU, nn.ReLU6)
SQUASH = (nn.Sigmoid, nn.Tanh)


def unit_stat(module: nn.Module, out: torch.Tensor) -> tuple[str, torch.Tensor] | None:
    """("dead_fraction", share of units never positive on the batch) for a ReLU, or
    ("saturated_fraction", share of outputs within 1% of the range's ends) for sigmoid / tanh."""
    if not isinstance(out, torch.Tensor) or out.dim() < 2 or not out.is_floating_point():
        return None
    x = out.detach()
    if isinstance(module, RELU):
        # A unit is dead when its maximum over the batch (and positions) is <= 0; a max-reduction reads the
        # tensor once and copies nothing. Units are channels (dim 1) of images, features (dim 1) of
        # (batch, features), and for 3-d outputs either dim 1 (conv1d channels) or the last dim (features
        # of a sequence): the shape cannot tell which, and the wrong reading finds almost nothing dead,
        # so the larger of the two is kept.
        def dead(dim: int) -> torch.Tensor:
            return (x.amax(dim=[d for d in range(x.dim()) if d != dim]) <= 0).float().mean()
        return "dead_fraction", torch.maximum(dead(1), dead(2)) if x.dim() == 3 else dead(1)
    center, half = (0.5, 0.5) if isinstance(module, nn.Sigmoid) else (0.0, 1.0)
    return "saturated_fraction", ((x - center).abs() > 0.98 * half).float().mean()  # within 1% of either end


class ActivationTap:
    """Hooks that are on only while armed; the first call of each layer per arming is measured.

    A layer whose output *is* the model's output (a sigmoid head trained with BCE) is left out:
    confident predictions sit at the bounds by design.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.layers = {m: n for n, m in model.named_modules() if isinstance(m, RELU + SQUASH)}
        self._handles: list = []
        self._stats: dict[str, tuple[str, torch.Tensor]] = {}
        self._outputs: dict[str, torch.Tensor] = {}

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    def arm(self) -> None:
        if self.armed or not self.layers:
            return
        self._stats, self._outputs = {}, {}
        self._handles = [m.register_forward_hook(self._hook) for m in self.layers]
        self._handles.append(self.model.register_forward_hook(self._model_hook))

    def disarm(self) -> dict[str, tuple[str, torch.Tensor]]:
        for h in self._handles:
            h.remove()
        self._handles = []
        self._outputs = {}
        return self._stats

    def _hook(self, module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        name = self.layers[module]
        if name in self._stats:
            return
        stat = unit_stat(module, out)
        if stat is not None:
            self._stats[name] = stat
            self._outputs[name] = out

    def _model_hook(self, _module: nn.Module, _inputs: tuple, out: object) -> None:
        for name, o in list(self._outputs.items()):
            if o is out:
                del self._stats[name]
        self._outputs = {}
