"""The Monitor's cross-rank exchange under torch.distributed (DDP, FSDP).

It cannot hang training: every rank enters the same collectives at the same points whatever
happened locally, because the points are fixed by step counts (every `sync_every` monitored
steps, and `close()`), and a rank whose monitor failed still enters them with a payload saying so.
Once any rank reports a failure, every rank learns it from the same gather and all stop
exchanging together. The collectives run on a process group of the monitor's own (gloo: CPU
objects even when training uses NCCL) with the timeout the training's own process group was given
(a slow final evaluation on rank 0 waits as long for the monitor as for the training), a last guard
should a rank never arrive (e.g. `close()` called on one rank only).
"""

from __future__ import annotations

import datetime
from typing import Any

import torch.distributed as dist

from ..judge.nonfinite import FIELDS, kind
from ..vocabulary.numbers import nonfinite

def training_timeout() -> datetime.timedelta | None:
    """The timeout of the default process group (`init_process_group(timeout=...)`); None, torch's
    default, when this torch does not expose it."""
    try:
        group = dist.distributed_c10d._get_default_group()
        return group._get_backend(group._device_types[0]).options._timeout
    except Exception:  # private API: may move between torch versions
        return None


class Exchange:
    def __init__(self, world: int):
        self.world, self.live = world, True
        self.note: str | None = None  # for the report: the exchange runs on the training's own group
        try:
            self.group = dist.new_group(backend="gloo", timeout=training_timeout())
        except Exception as exc:  # no gloo in this build: the default group, with its own timeout
            self.group = None
            self.note = (f"the monitor's exchange between ranks runs on the training's own process group (no gloo "
                         f"group: {type(exc).__name__}: {exc}), so its collectives are queued with the training's")

    def share(self, records: list[dict[str, Any]] | None, disabled: str | None) -> list[str]:
        """Merge every rank's records into `records` (in place); returns why ranks could not be checked.
        `records` is None on a rank whose monitor failed before this sync."""
        payload = {"disabled": disabled, "records": [_slim(r) for r in records or []]}
        gathered: list[Any] = [None] * self.world
        try:
            dist.all_gather_object(gathered, payload, group=self.group)
        except Exception as exc:
            self.live = False
            return [f"the monitor's exchange between ranks failed ({type(exc).__name__}: {exc}); the other ranks' "
                    "later steps were not checked"]
        notes = [f"rank {rank}: the monitor disabled itself after an internal error ({p['disabled']}); its later steps "
                 "were not checked" for rank, p in enumerate(gathered) if p["disabled"]]
        if notes:
            self.live = False  # every rank saw the same gather: all stop here, none waits for the others
        if records:
            merge(records, [p["records"] for p in gathered])
        return notes


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("step", "loss", "grad_norm", *FIELDS) if k in record}


def merge(records: list[dict[str, Any]], ranks: list[list[dict[str, Any]]]) -> None:
    """Losses are averaged over ranks (gradients are already all-reduced, so norms agree). The
    non-finite fields are those of the rank where the problem started: a non-finite batch before a
    non-finite loss before non-finite gradients (which the all-reduce spreads to every rank), then
    the lowest rank."""
    by_step = [{r["step"]: r for r in rank} for rank in ranks]
    for record in records:
        peers = [(rank, steps[record["step"]]) for rank, steps in enumerate(by_step) if record["step"] in steps]
        losses = [p["loss"] for _, p in peers if p.get("loss") is not None]
        if losses:
            record["loss"] = sum(losses) / len(losses)
        if any(nonfinite(p.get("loss")) for _, p in peers):
            record["nonfinite_ranks"] = [rank for rank, p in peers if nonfinite(p.get("loss"))]
        culprit = min(((kind(p), rank, p) for rank, p in peers if kind(p) < 3), default=None, key=lambda c: c[:2])
        for field in FIELDS:
            record.pop(field, None)
        if culprit is not None:
            _, rank, fields = culprit
            record.update({k: fields[k] for k in FIELDS if k in fields}, nonfinite_rank=rank)
