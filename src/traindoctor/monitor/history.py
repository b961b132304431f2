"""A bounded, evenly spaced history of a run of any length, for the report's figures.

The flight recorder keeps the last steps in full; this keeps the whole run thinly: at most
`size` entries, and when full every other one is dropped and from then on only every other
new one is kept, so the kept steps stay evenly spaced whatever the run's length.
"""

from __future__ import annotations

from typing import Any


class Thinned:
    def __init__(self, size: int = 1000):
        self.size, self.stride, self.seen = size, 1, 0
        self.items: list[Any] = []

    def add(self, item: Any) -> None:
        if self.seen % self.stride == 0:
            self.items.append(item)
            if len(self.items) > self.size:
                self.items, self.stride = self.items[::2], self.stride * 2
        self.seen += 1


class History:
    """Scalars of every monitored step (loss-like values, gradient norm, LR) and the per-module
    gradient norms of sampled steps, each thinned on its own."""

    def __init__(self, size: int = 1000):
        self.steps, self.modules = Thinned(size), Thinned(size)

    def add(self, record: dict[str, Any]) -> None:
        self.steps.add({k: v for k, v in record.items()
                        if k in ("step", "grad_norm", "lr") or ("loss" in k and not isinstance(v, (dict, list)))})
        if "grad_norm_by_module" in record:
            self.modules.add({"step": record["step"], "grad_norm_by_module": record["grad_norm_by_module"]})

    def to_dict(self) -> dict[str, list]:
        return {"steps": self.steps.items, "modules": self.modules.items}
