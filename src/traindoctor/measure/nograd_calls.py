"""What a model's no-grad forward passes in training mode (dropout / batch norm active) were for: an
evaluation, or part of a training step (a target network, an EMA or frozen teacher, pseudo-labels), whose
batch statistics are by design (BYOL, MoCo). Told apart by what follows each call: a backward before the
next optimizer step, and whether the model itself was trained in that step (judge/modes.py decides)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class NoGradCalls:
    seen: bool = False
    # Waiting for what follows them: a backward, an optimizer step, or the end of the run.
    pending: int = 0
    pending_in_forward: int = 0  # ran after a training call and before its backward (inside the step's forward)
    pending_location: dict[str, Any] = field(default_factory=dict)
    # Followed by a backward before the next optimizer step and ran inside the step's forward: the loss's own.
    in_forward: int = 0
    # Followed by a backward before the next optimizer step, outside the forward, in a step that did not train
    # this model: nothing else in that step could use the output but the loss (a target, a teacher) ...
    untrained: int = 0
    untrained_steps: int = 0  # ... at so many backward passes
    untrained_location: dict[str, Any] = field(default_factory=dict)
    backwards: int = 0  # backward passes since this model's first such call
    # The first call known to be an evaluation (no backward followed, or the model trained in between).
    eval_location: dict[str, Any] = field(default_factory=dict)

    def called(self, in_forward: bool, where: Callable[[], dict[str, Any]]) -> None:
        self.seen = True
        self.pending += 1
        self.pending_in_forward += in_forward
        self.pending_location = self.pending_location or where()

    def backward(self, trained: bool) -> None:
        """A backward; `trained`: this model ran with gradients since the previous one."""
        if not self.seen:
            return
        self.backwards += 1
        outside = self.pending - self.pending_in_forward
        self.in_forward += self.pending_in_forward
        if outside and not trained:
            self.untrained += outside
            self.untrained_steps += 1
            self.untrained_location = self.untrained_location or self.pending_location
        elif outside:  # the model's own pass between a step and its next forward: a validation pass
            self.eval_location = self.eval_location or self.pending_location
        self._reset()

    def step(self) -> None:
        """An optimizer step: the calls no backward followed were evaluations."""
        if self.pending:
            self.eval_location = self.eval_location or self.pending_location
        self._reset()

    def _reset(self) -> None:
        self.pending = self.pending_in_forward = 0
        self.pending_location = {}
