"""The columns that describe a model's results rather than the data: the slices to break a metric down by,
a per-row metric, a prediction, a model's class probabilities. Named by the caller only (never guessed),
and left out of the feature checks (a prediction would otherwise "leak" the target)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .roles import _names

KEYS = ("slice", "metric", "prediction", "probs")


@dataclass
class Evaluation:
    slices: list[str] = field(default_factory=list)
    metric: str | None = None
    prediction: str | None = None
    probs: list[str] = field(default_factory=list)  # one vector column (N, C), or one column per class

    @classmethod
    def of(cls, given: dict) -> "Evaluation":
        one = {k: (_names(given.get(k)) or [None])[0] for k in ("metric", "prediction")}
        return cls(slices=_names(given.get("slice")), probs=_names(given.get("probs")), **one)

    def columns(self) -> set[str]:
        return {*self.slices, *self.probs, *(c for c in (self.metric, self.prediction) if c)}

    def to_dict(self) -> dict:
        return {"slices": self.slices, "metric": self.metric, "prediction": self.prediction, "probs": self.probs}
