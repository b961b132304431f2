"""What a model's no-grad forward passes in training mode (dropout / batch norm active) were for: an
evaluation, or part of a training step (a target network, an EMA or frozen teacher, pseudo-labels), whose
batch statistics are by design (BYOL, MoCo). Told apart by what follows each call: a backward before the
next optimizer step, whether the model itself was trained in that step, and, for a trained model's pass
before its training forward, whether its outputs reached the loss (measure/provenance.py), followed at a
few passes per call site (judge/modes.py decides)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

SITE_CHECKS = 3  # passes followed per call site: a site is a step's own when every one fed the loss


@dataclass
class Site:
    location: dict[str, Any]
    passes: int = 0
    followed: int = 0  # passes whose outputs were followed ...
    all_fed: bool = True  # ... and each time reached the loss


@dataclass
class NoGradCalls:
    seen: bool = False
    # Waiting for what follows them: a backward, an optimizer step, or the end of the run.
    pending: int = 0
    pending_in_forward: int = 0  # ran after a training call and before its backward (inside the step's forward)
    pending_location: dict[str, Any] = field(default_factory=dict)
    pending_outside: list[dict[str, Any]] = field(default_factory=list)  # where each pending pass outside ran
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
    # A trained model's passes between its steps followed by a backward, per call site (file, line).
    sites: dict[tuple[Any, Any], Site] = field(default_factory=dict)

    def to_follow(self, location: dict[str, Any] | None) -> tuple[Any, Any] | None:
        """The call site of a pass made outside a step's forward (`called` returned where), if its outputs are
        still to be followed to the loss."""
        if location is None:
            return None
        key = _site(location)
        site = self.sites.get(key)
        return key if site is None or site.followed < SITE_CHECKS else None

    def fed(self) -> int:
        """The passes of call sites whose outputs fed the loss each time they were followed: a training step's
        own (double-DQN's next actions, pseudo-labels from the model being trained)."""
        return sum(s.passes for s in self.sites.values() if s.followed and s.all_fed)

    def unfed_location(self) -> dict[str, Any]:
        """Where such a pass did not feed the loss, or was never followed: a validation pass."""
        return next((s.location for s in self.sites.values() if not (s.followed and s.all_fed)), {})

    def called(self, in_forward: bool, where: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """A pass; returns where it ran if that was outside a step's forward."""
        self.seen = True
        self.pending += 1
        self.pending_in_forward += in_forward
        location = where()
        self.pending_location = self.pending_location or location
        if in_forward:
            return None
        self.pending_outside.append(location)
        return location

    def backward(self, trained: bool, fed: dict[tuple[Any, Any], bool] | None = None) -> None:
        """A backward; `trained`: this model ran with gradients since the previous one; `fed`: per call site
        followed, whether the outputs of its pass outside the forward reached this backward's loss."""
        if not self.seen:
            return
        self.backwards += 1
        outside = self.pending - self.pending_in_forward
        self.in_forward += self.pending_in_forward
        if outside and not trained:
            self.untrained += outside
            self.untrained_steps += 1
            self.untrained_location = self.untrained_location or self.pending_location
        elif outside:  # the model's own pass between a step and its next forward: judged by its call site
            for location in self.pending_outside:
                key = _site(location)
                site = self.sites.setdefault(key, Site(location))
                site.passes += 1
                if fed and key in fed:
                    site.followed += 1
                    site.all_fed = site.all_fed and fed.pop(key)
        self._reset()

    def step(self) -> None:
        """An optimizer step: the calls no backward followed were evaluations."""
        if self.pending:
            self.eval_location = self.eval_location or self.pending_location
        self._reset()

    def _reset(self) -> None:
        self.pending = self.pending_in_forward = 0
        self.pending_location = {}
        self.pending_outside = []


def _site(location: dict[str, Any]) -> tuple[Any, Any]:
    return location.get("file"), location.get("line")
