"""Whether a model's no-grad outputs reach the loss: what tells a training step's own no-grad pass (the
online network choosing double-DQN's next actions, pseudo-labels from the model being trained) from an
evaluation that happens to run between two steps (measure/nograd_calls.py keeps the verdict per call site).

A TorchFunctionMode follows the tensors derived from those outputs, call by call, until a call combines one
with a tensor that requires grad (its result then requires grad: the outputs fed the loss) or the backward
comes. It only reads: every call runs as the script made it, from the script's own file and line
(measure/tape.py's trampoline, so warnings keep their place). Like the tape, it is left at the next event
the recorder sees once it is done, never from inside its own handler.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from .tape import on_top, script_frame, trampoline

MAX_CALLS = 20_000  # followed this far without meeting the loss: no verdict


class _Following(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        # id -> (the tensor, kept alive while following; the call sites whose outputs it derives from)
        self.derived: dict[int, tuple[torch.Tensor, frozenset]] = {}
        self.tags: set[Any] = set()  # the call sites followed
        self.fed: set[Any] = set()  # ... whose outputs reached a tensor that requires grad
        self.calls = 0
        self.handling = 0

    def add(self, output: Any, tags: frozenset) -> None:
        for t in tree_flatten(output)[0]:
            if isinstance(t, torch.Tensor):
                seen = self.derived.get(id(t))
                self.derived[id(t)] = (t, tags | seen[1] if seen is not None and seen[0] is t else tags)

    def _tags(self, x: Any) -> frozenset:
        seen = self.derived.get(id(x)) if isinstance(x, torch.Tensor) else None
        return seen[1] if seen is not None and seen[0] is x else frozenset()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self.handling += 1
        try:
            result = trampoline(script_frame(sys._getframe(1)))(func, args, kwargs)
        finally:
            self.handling -= 1
        if self.derived and self.calls < MAX_CALLS:
            self.calls += 1
            tags = frozenset().union(*(self._tags(x) for x in tree_flatten((args, kwargs))[0]))
            if tags:
                name = getattr(func, "__name__", "")
                results = tree_flatten(result)[0]
                if (name.endswith("_") or name == "__setitem__") and args and isinstance(args[0], torch.Tensor):
                    results = [args[0], *results]  # written in place: the tensor written to now derives from them
                tensors = [r for r in results if isinstance(r, torch.Tensor)]
                if any(r.requires_grad for r in tensors):
                    self.fed |= tags
                else:
                    self.add(tensors, tags)
        return result


class Provenance:
    """One following at a time per thread: started at a no-grad output, judged at the next backward()."""

    def __init__(self) -> None:
        self.active: _Following | None = None
        self.closing: list[_Following] = []

    def follow(self, output: Any, site: Any) -> None:
        """Follow these outputs of a pass made at `site` too (started if not yet)."""
        self.settle()
        if self.closing:
            return
        if self.active is None:
            self.active = _Following()
            self.active.__enter__()
        self.active.tags.add(site)
        self.active.add(output, frozenset([site]))

    def verdict(self) -> dict[Any, bool]:
        """At a backward(): per call site followed since the start, whether its outputs fed it (a site not seen
        to, when the following gave up, is left out). The following stops here."""
        following, self.active = self.active, None
        if following is None:
            return {}
        gave_up = following.calls >= MAX_CALLS
        fed = {site: site in following.fed for site in following.tags if site in following.fed or not gave_up}
        following.derived.clear()
        self.closing.append(following)
        return fed

    def stop(self) -> None:
        """An optimizer step with no backward since the start: nothing was fed."""
        self.verdict()
        self.settle()

    def settle(self) -> None:
        """Leave the modes that are done, when not inside one's handler and no mode entered later sits above."""
        while self.closing and not self.closing[-1].handling and on_top(self.closing[-1]):
            self.closing.pop().__exit__(None, None, None)
