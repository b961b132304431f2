"""A model's own output fed back into its next call of the same step with its graph cut: a recurrent cell
called once per time step from the training loop, whose state is detached inside the loop over time
(`h = h.detach()` after each `cell(x[t], h)`) rather than between batches. Each call's output reaches the loss,
and each later call reads the earlier one's value, so the loss depends on the earlier calls' inputs and states
in the forward; the backward carries nothing from one call to the one before: nothing that spans two calls
can be learned.

Seen per model at its training calls (a step is the span between two backward() calls): a tensor argument
that carries no gradient yet shares its storage with a gradient-carrying output of an earlier call of the
same model in this step is that output detached (`.detach()`, `.data`); an argument that is such an output
itself carries the graph on (a state passed whole within the step, detached only between steps: truncated
backpropagation through time). At the step's backward, a step whose every feedback was cut, and whose fed-back
outputs and the calls that read them both reach the loss, counts (judge/loop.py decides). Identity and storage
are looked up by id and data pointer: no tensor is kept alive, no value read.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Iterable

import torch
from torch.utils._pytree import tree_leaves

from .leaves import nodes

WALKED = 20_000  # autograd nodes walked at a step's backward to see whether the fed-back outputs reach the loss


@dataclass
class FedBack:
    # Of this step: the gradient-carrying outputs by id and by storage, weakly; the storages are looked up only
    # when a later call comes (`fresh`: outputs not yet in them), so a model called once a step pays for a list.
    outputs: dict[int, weakref.ref] = field(default_factory=dict)
    storages: dict[int, weakref.ref] = field(default_factory=dict)
    fresh: list[weakref.ref] = field(default_factory=list)
    cut: list[weakref.ref] = field(default_factory=list)  # outputs fed back detached
    readers: list[weakref.ref] = field(default_factory=list)  # the outputs of the calls that read them
    reading: bool = False  # the current call read a detached output
    whole: bool = False  # an output was fed back with its graph
    location: dict[str, Any] | None = None  # the first call that read a detached output
    # Over the run:
    steps: int = 0  # steps whose every feedback was cut, both sides reaching the loss
    fed_steps: int = 0  # steps with any feedback, cut or whole
    first_location: dict[str, Any] = field(default_factory=dict)

    def called(self, arguments: Any, where: Any) -> None:
        """A training call of the model, with its (args, kwargs)."""
        self.reading = False
        if not self.outputs:  # the step's first call: nothing of this step to feed back
            return
        with torch._C.DisableTorchFunction():  # a loss head on tape must not see these reads
            self._read(arguments, where)

    def _read(self, arguments: Any, where: Any) -> None:
        for ref in self.fresh:
            if (t := ref()) is not None:
                self.storages[t.untyped_storage().data_ptr()] = ref
        self.fresh = []
        for t in tree_leaves(arguments):
            if not isinstance(t, torch.Tensor):
                continue
            ref = self.outputs.get(id(t))
            if ref is not None and ref() is t:
                self.whole = True
                continue
            if t.requires_grad or t.numel() == 0:
                continue
            ref = self.storages.get(t.untyped_storage().data_ptr())
            source = ref() if ref is not None else None
            if source is not None and source.shape == t.shape:
                self.cut.append(ref)
                self.reading = True
                self.location = self.location or where()

    def returned(self, leaves: Iterable[Any]) -> None:
        """The call's outputs: those that carry gradient may be fed back."""
        for t in leaves:
            if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point() and t.numel():
                ref = self.outputs[id(t)] = weakref.ref(t)
                self.fresh.append(ref)
                if self.reading:
                    self.readers.append(ref)

    def backward(self, loss: torch.Tensor | None) -> None:
        """The step's backward(): count it, and start the next step afresh."""
        if self.cut or self.whole:
            self.fed_steps += 1
        if self.cut and not self.whole and loss is not None and loss.grad_fn is not None:
            graph = {id(n) for n in nodes(loss.grad_fn, max_nodes=WALKED)}

            def reach(refs: list[weakref.ref]) -> bool:
                return any((t := r()) is not None and id(t.grad_fn) in graph for r in refs)

            if reach(self.cut) and reach(self.readers):
                self.steps += 1
                self.first_location = self.first_location or (self.location or {})
        self.outputs, self.storages, self.fresh, self.cut, self.readers = {}, {}, [], [], []
        self.whole, self.reading, self.location = False, False, None
