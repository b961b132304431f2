"""The battery: the selected probes run on copies of the user's model, each isolated and seeded
alike; it returns their findings and records. checkup (diagnosis/checkup.py) runs it with every probe,
`run` with the cheap ones on the model training left."""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import torch

from ..measure.records import ProbeRecord, Status
from ..measure.recorder import internal_calls
from ..vocabulary.finding import Finding
from .guard import guarded
from .registry import Context, Options, Probe, registered
from .sandbox import isolated, same_noise
from .setup import NotApplicable, Setup, SetupError

PROBE_SEED = 0


class Watch(Protocol):
    """Follows the battery as it runs (checkup's progress bar); entered around all the probes."""

    def __enter__(self) -> "Watch": ...
    def __exit__(self, *exc: Any) -> None: ...
    def probe(self, name: str) -> None: ...  # a probe starts
    def tick(self, done: int, total: int, what: str) -> None: ...  # a long probe's steps
    def done(self) -> None: ...  # the probe ended


@dataclass
class Outcome:
    setup: Setup
    findings: list[Finding]
    records: list[ProbeRecord]


def examine(model: torch.nn.Module, batch: Any, loss_fn: Any = None, optimizer: Any = None, *,
            probes: Sequence[str], options: Options = Options(), watch: Watch | None = None) -> Outcome:
    """Run `probes` (names, in the order given) on copies of `model` with `batch`; the arguments are
    checkup's. Nothing of the caller's is modified: model, optimizer, batch, RNG state and warning
    filters are left as they were. Raises SetupError for arguments that cannot be used."""
    known = {p.name: p for p in registered()}
    unknown = set(probes) - set(known)
    if unknown:
        raise SetupError(f"unknown probe(s) {sorted(unknown)}; choose from {', '.join(known)}")
    current_lr = float(optimizer.param_groups[0]["lr"]) if isinstance(optimizer, torch.optim.Optimizer) else None
    findings: list[Finding] = []
    records: list[ProbeRecord] = []
    with isolated(), internal_calls():  # calls from here have no user location; the user's RNG streams restored, their warnings not printed again by forwards on copies
        setup = Setup.build(model, batch, loss_fn, optimizer)
        with guarded(model, allowed=loss_fn), (watch or nullcontext()):  # a probe about to touch the original stops
            context = Context(options, current_lr=current_lr)
            if watch:
                context.tick = watch.tick
            for name in probes:
                if watch:
                    watch.probe(name)
                new, record = _run_probe(known[name], setup, context)
                if watch:
                    watch.done()
                findings += new
                records.append(record)
    return Outcome(setup, findings, records)


def _run_probe(probe: Probe, setup: Setup, context: Context) -> tuple[list[Finding], ProbeRecord]:
    t0 = time.monotonic()  # reported as information; no probe decides anything by time
    new: list[Finding] = []
    if setup.blocked and not probe.batch_only:
        body: dict[str, Any] = {"note": setup.blocked}
        status: Status = "failed"
    else:
        try:
            with same_noise(PROBE_SEED):  # each probe draws the same, whatever the caller's RNG state
                new, measured = probe.run(setup, context)
            body, status = dict(measured), "ran"
        except (NotApplicable, SetupError) as exc:  # does not apply, or e.g. no loss for a probe that needs one
            body, status = {"note": str(exc)}, "skipped"
        except Exception as exc:  # a probe that breaks must not stop the battery
            body, status = {"note": f"probe failed: {type(exc).__name__}: {str(exc)[:300]}"}, "failed"
    record = ProbeRecord(name=probe.name, status=status, seconds=round(time.monotonic() - t0, 3), **body)
    if setup.subsampled:
        record["samples"] = setup.subsampled
    return new, record


def could_not_check(records: Sequence[ProbeRecord]) -> list[str]:
    """Why the battery could not look: at least as many applicable probes failed as ran, the loss could not be
    computed, or none applied.
    (Skipped probes do not apply to this model; they neither count for nor against.)"""
    ran = [r["name"] for r in records if r["status"] == "ran"]
    failed = [r for r in records if r["status"] == "failed"]
    if records and not ran and not failed:
        return [f"none of the {len(records)} probes applied: " + _grouped(records)]
    # The loss is what checkup is about: when neither its first value nor a fit could be computed, the probes
    # that ran without it (the batch, the forward's structure) did not look at learning at all.
    lossless = {"init-loss", "overfit"} <= {r["name"] for r in failed}
    if not failed or (len(failed) < len(ran) and not lossless):
        return []
    who = f"only {', '.join(ran)} ran" if ran else "none ran"
    return [f"{len(failed)} of {len(failed) + len(ran)} applicable probes failed ({who}): " + _grouped(failed)]


def _grouped(records: Sequence[ProbeRecord]) -> str:
    """`a, b: reason; c: other reason`, each reason once."""
    by_note: dict[str, list[str]] = {}
    for r in records:
        by_note.setdefault(r.get("note", "").removeprefix("probe failed: "), []).append(r["name"])
    return "; ".join(f"{', '.join(names)}: {note}" for note, names in by_note.items())
