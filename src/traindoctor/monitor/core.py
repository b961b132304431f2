"""`traindoctor.Monitor`: a training monitor cheap enough to leave on.

Per monitored step it runs one fused `torch._foreach_norm` over the gradients, before the update,
and one min/max reduction per floating tensor entering the model and on its output (finiteness);
all stay on the device. Every
`sync_every` steps the buffered tensors are moved to the host in one transfer (before that step's
update), turned into records, checked by the rules, written to the sinks and kept in a flight
recorder (the last `flight_steps` records go into the report).

A bug inside the monitor disables it with one warning and the report says it could not check; it
never interrupts training (unless `on_error="raise"`, which raises `TrainingAlarm` on purpose when
a rule fires an error). Under torch.distributed a disabled rank keeps entering the monitor's
collectives until every rank knows (see exchange.py), so no rank waits forever.
"""

from __future__ import annotations

import functools
import math
import numbers
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from ..vocabulary.finding import Finding
from ..vocabulary.report import Report, save_json
from ..vocabulary.triage import triage
from ..vocabulary.jsonsafe import plain
from ..measure.activations import ActivationTap
from ..measure.batches import BatchColumns
from ..measure.clipping import watch_clipping
from ..measure.localise import locate, nonfinite_inputs, replay
from ..measure.records import MonitorSection, StepRecord
from ..measure.stats import batch_tensors, finiteness_probe, first_tensor, stack_scalars, tensors_in
from ..measure.steps import (Groupings, PreClip, UpdateSampler, grad_norms, learning_rates, parameters, read_steps,
                             to_host, total, when_grads_final)
from .exchange import Exchange
from .history import History
from .logdir import start_fresh
from ..judge.nonfinite import NonfiniteRule, kind
from ..judge import columns
from ..judge.loss_balance import Online
from ..measure.term_grads import measure as measure_terms
from ..judge.steps import StepRules
from ..judge.steps.base import second_moment
from .sinks import make_sinks

ON_ERROR = ("log", "warn", "raise")
_MAX_FLAGS = 64  # finiteness probes kept per step: further input probes are folded into one, further outputs not probed


class TrainingAlarm(RuntimeError):
    """Raised from the optimizer step when `on_error="raise"` and an error-severity finding fires."""


class Monitor:
    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, log_dir: str | Path | None = None,
                 every: int = 1, on_error: str = "log", *, sync_every: int = 50, sample_every: int = 10,
                 flight_steps: int = 200, sinks: Iterable[str | Any] = ("jsonl",)):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, not {on_error!r}")
        self.model, self.optimizer, self.every, self.on_error = model, optimizer, max(1, every), on_error
        self.sync_every, self.sample_every = max(1, sync_every), max(1, sample_every)
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.step = 0
        self.records: deque[StepRecord] = deque(maxlen=flight_steps)
        self.history = History()
        self.findings: list[Finding] = []
        self.disabled: str | None = None
        self.sink_errors: list[str] = []
        self._notes: list[str] = []  # other ranks' reasons for not checking, from the exchange
        self._rules, self._nonfinite = StepRules("monitor", optimizer=optimizer), NonfiniteRule()
        self._balance = Online("monitor")
        self._kind_written = False
        self._pending: list[dict[str, Any]] = []
        self._scalars: dict[str, Any] = {}
        # The last record of a sync is judged when the next step starts (or on close), with what log_last()
        # attached to it meanwhile: (record, what _attribute needs), the fields attached, and the lines
        # carrying them to the sinks at the next sync (its record was already written).
        self._held: tuple[StepRecord, tuple] | None = None
        self._late: dict[str, Any] = {}
        self._late_lines: list[dict[str, Any]] = []
        self._warned: set[str] = set()
        self._inputs: list[str] = []
        self._input_flags: list[list[torch.Tensor]] = []  # finiteness probes, read at the sync
        self._output_flags: list[list[torch.Tensor]] = []
        self._inputs_seen = 0  # tensors entering the model this step that cannot be non-finite (integers)
        self._snapshot: list[torch.Tensor] | None = None
        self._batches: BatchColumns | None = BatchColumns()  # sampled steps' inputs, for the data's column rules
        self._samples = UpdateSampler()
        self._ratio: torch.Tensor | None = None
        self._preclip = PreClip()
        self._last_batch: tuple[int, tuple, dict] | None = None
        self._checked: tuple[int, Any] | None = None  # (step, batch) given to check_batch()
        self._groupings = Groupings(lambda: [self.model])
        self._started = time.monotonic()
        self._last_time: float | None = None  # of the last step turned into a record, across syncs
        self._due, self._in_update, self._off = 0, False, False
        self._attributed: int | None = None  # the step of the first non-finite record, attributed in full
        self._disabled_at: int | None = None
        self._final: Report | None = None
        dist = torch.distributed
        self.rank, self.world = (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)
        self._exchange = Exchange(self.world) if self.world > 1 else None
        self._section_notes = [self._exchange.note] if self._exchange is not None and self._exchange.note else []
        if self.rank != 0:
            self.log_dir = None  # only rank 0 writes
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            start_fresh(self.log_dir)
        self._sinks = make_sinks(sinks, self.log_dir) if self.rank == 0 else []
        self._tap = ActivationTap(model)
        self._tap.arm()  # step 0 is sampled
        self._measure_g, self._after_update_g = self._guard(self._measure), self._guard(self._after_update)
        self._handles = [
            optimizer.register_step_pre_hook(self._pre),
            optimizer.register_step_post_hook(self._post),
            model.register_forward_pre_hook(self._guard(self._capture), with_kwargs=True),
            model.register_forward_hook(self._guard(self._capture_output)),
        ]
        self._restore_clip = watch_clipping(self._on_clip)

    # ── public API ───────────────────────────────────────────────────────────
    def log(self, **scalars: Any) -> None:
        """Log scalars for the coming optimizer step; tensors are kept on the device (no sync).
        Numbers, 1-element tensors, numpy scalars and bools are recorded; anything else is skipped
        with one warning per key (None silently)."""
        if not self.disabled:
            terms = scalars.pop("terms", None)
            if isinstance(terms, dict):
                self._guard(self._log_terms)(terms)
            elif terms is not None:
                scalars["terms"] = terms  # refused with the usual warning
            self._store(self._scalars, scalars)

    def log_last(self, **scalars: Any) -> None:
        """Attach scalars to the step that just finished (callbacks that log after the step)."""
        if self.disabled:
            return
        if self._pending:
            target = self._pending[-1]["scalars"]
        elif self._held is not None and self._held[0]["step"] == self.step - 1:
            target = self._late
        else:
            target = self._scalars
        self._store(target, scalars)

    @property
    def closed(self) -> bool:
        return self._final is not None

    def check_batch(self, batch: Any) -> None:
        """Check the coming step's batch (any nesting of tensors) for non-finite values, under the names
        `batch[0]`, `batch["x"]`...: for loops where the batch does not enter the model's forward as its
        arguments (Lightning's training_step). The model's own inputs are then not checked again."""
        if not self.disabled:
            self._guard(self._check_batch)(batch)

    def _check_batch(self, batch: Any) -> None:
        self._checked = (self.step, batch)  # a reference, for the counts in the report if this step's batch is bad
        self._note_inputs(tensors_in(batch, "batch"))

    def flush(self) -> None:
        """Sync now (single process; under torch.distributed syncs happen at fixed steps and on close)."""
        if self._exchange is None:
            self._sync()

    def report(self) -> Report:
        if self._final is not None:
            return self._final
        self.flush()
        section: MonitorSection = {"steps": self.step, "seconds": round(time.monotonic() - self._started, 3), "disabled": self.disabled,
                   "sink_errors": list(self.sink_errors), "flight_recorder": list(self.records),
                   "history": self.history.to_dict(), "log_dir": str(self.log_dir) if self.log_dir else None,
                   "notes": list(self._section_notes)}
        seen = columns.of_batches(self._batches, "monitor") if self._batches is not None else []
        return Report(command="monitor", findings=triage(list(self.findings) + seen), sections={"monitor": section},
                      unchecked=self._unchecked())

    def close(self) -> Report:
        if self._final is not None:
            return self._final
        alarm = None
        try:
            self._sync(final=True)  # under torch.distributed the last collective: every rank's close() enters it
        except TrainingAlarm as exc:  # on_error="raise": raised once the monitor is closed and the report written
            alarm = exc
        self._exchange = None
        report = self.report()
        self._stand_down()
        self._restore_clip()
        for sink in list(self._sinks):
            try:
                sink.close()
            except Exception as exc:
                self._sink_failed(sink, exc)
        self._sinks = []
        if self.log_dir is not None:
            self._write_report(report)
        self._final = report
        if alarm is not None:
            raise alarm
        return report

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ── self-protection ──────────────────────────────────────────────────────
    def _guard(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if self.disabled:
                return None
            try:
                return fn(*args, **kwargs)
            except TrainingAlarm:
                raise
            except Exception as exc:  # our bug: step aside, say so once, never stop the training
                self._fail(exc)
                return None
        return guarded

    def _fail(self, exc: Exception) -> None:
        self.disabled, self._disabled_at = f"{type(exc).__name__}: {exc}", self.step
        warnings.warn(f"traindoctor monitor disabled itself after an internal error ({self.disabled}); "
                      "training continues unmonitored", RuntimeWarning, stacklevel=3)
        self._pending, self._inputs, self._input_flags, self._output_flags, self._last_batch = [], [], [], [], None
        self._checked = None
        self._held, self._late, self._late_lines = None, {}, []
        if self._exchange is None or not self._exchange.live:
            self._say_unchecked([self._disabled_note()])  # under DDP: once every rank knows, as "rank r: ..."
            self._stand_down()  # else the hooks keep counting steps until every rank has been told

    def _disabled_note(self) -> str:
        return (f"the monitor disabled itself after an internal error ({self.disabled}) at step {self._disabled_at}; "
                "later steps were not checked")

    def _say_unchecked(self, notes: list[str]) -> None:
        """Into the log as it is written, so a run killed before close() still reads as not checked."""
        if notes:
            self._write([{"step": self.step, "could_not_check": n} for n in notes])

    def _stand_down(self) -> None:
        self._off = True
        for h in self._handles:
            h.remove()
        self._handles = []
        self._tap.disarm()

    def _unchecked(self) -> list[str]:
        out = list(self._notes)
        if self.disabled and not any(n.startswith(f"rank {self.rank}:") for n in out):
            out.insert(0, self._disabled_note())
        if self.step == 0:
            out.append("no optimizer step was observed: call step() on the optimizer given to Monitor "
                       "(for a wrapped optimizer, pass the torch optimizer inside it)")
        return out

    def _write_report(self, report: Report) -> None:
        path = self.log_dir / "report.json"
        try:  # atomic: a kill mid-write never leaves a truncated report.json
            save_json(report, path)
        except OSError as exc:
            warnings.warn(f"traindoctor: could not write {path} ({exc}); `traindoctor report` will rebuild the "
                          "report from monitor.jsonl", RuntimeWarning, stacklevel=3)

    # ── logged values ────────────────────────────────────────────────────────
    def _store(self, target: dict[str, Any], scalars: dict[str, Any]) -> None:
        for key, value in scalars.items():
            number = self._number(key, value)
            if number is not None:
                target[key] = number

    def _number(self, key: str, value: Any) -> float | torch.Tensor | None:
        """A loggable number, or None (with one warning per key) for anything else."""
        if value is None:
            return None
        try:
            if key == "step":
                why = "a reserved name (the monitor numbers steps itself)"
            elif isinstance(value, torch.Tensor):
                if value.numel() == 1 and not value.is_complex():  # stays on the device until the sync
                    return value.detach() if value.dim() == 0 else value.detach().reshape(())
                why = f"a tensor of {value.numel()} {value.dtype} values"
            elif isinstance(value, numbers.Real) or (hasattr(value, "__float__") and not isinstance(value, (str, bytes))):
                return float(value)
            else:
                why = f"a {type(value).__name__}"
        except Exception as exc:  # e.g. a numpy array of several values
            why = f"a {type(value).__name__} ({type(exc).__name__}: {exc})"
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"traindoctor: Monitor.log({key}=...) got {why}, not a number; {key!r} is not recorded",
                          RuntimeWarning, stacklevel=4)
        return None

    def _log_terms(self, terms: dict[str, Any]) -> None:
        """The loss's additive terms, each as it enters the loss (weight included): recorded as `term/<name>`; on
        sampled steps, before backward(), also the gradient each sends to the shared parameters (`term_grad/<name>`)
        and the rules of judge/loss_balance.py. torch.autograd.grad leaves `.grad` and the graph as they were.
        A term given as `(weight, term)` enters the loss as weight * term: the weight is a choice, not a scale error."""
        weights = {str(k): float(v[0]) for k, v in terms.items() if isinstance(v, tuple) and len(v) == 2}
        terms = {str(k): v[0] * v[1] if str(k) in weights else v for k, v in terms.items()}
        self._store(self._scalars, {f"term/{k}": v for k, v in terms.items()})
        if self.step % self.sample_every or self.step % self.every:
            return
        tensors = {k: v for k, v in terms.items() if isinstance(v, torch.Tensor) and v.requires_grad}
        if len(tensors) < 2 or any(v.grad_fn is None for v in tensors.values()):
            return
        try:
            sample = measure_terms(tensors, parameters(self.optimizer), self.step)
        except RuntimeError as exc:  # the graph was freed: logged after backward()
            if "terms" not in self._warned:
                self._warned.add("terms")
                warnings.warn("traindoctor: Monitor.log(terms=...) came after loss.backward(), which freed the graph: "
                              f"the terms' gradients are not measured ({str(exc).splitlines()[0][:120]}); log the terms "
                              "before backward()", RuntimeWarning, stacklevel=4)
            return
        if sample is None:
            return
        self._store(self._scalars, {f"term_grad/{k}": v for k, v in sample["norms"].items()})
        self.findings += self._balance.add(sample, weights)

    # ── hooks ────────────────────────────────────────────────────────────────
    def _capture(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if module.training and torch.is_grad_enabled():
            self._last_batch = (self.step, args, kwargs)  # references only: replayed if this step's loss is NaN
            if self._checked is None or self._checked[0] != self.step:
                self._note_inputs(batch_tensors(args, kwargs))
            if self._batches is not None and not self.step % self.sample_every:
                self._profile(module, args, kwargs)

    def _profile(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """The inputs of a sampled step, for the data's column rules (their first BATCH_ROWS rows: the copy to
        the CPU this takes ends there). A failure there stops only the profiling, and the report says so."""
        if self._batches.wants("inputs", type(module).__name__):
            self._batches.add_inputs(type(module).__name__, module, args, kwargs)
        if self._batches.failure:
            self._section_notes.append(f"the data checks on the batches stopped: {self._batches.failure}")
            self._batches = None

    def _capture_output(self, module: nn.Module, args: tuple, out: Any) -> None:
        """Whether the model's output is finite: tells a non-finite forward pass from a non-finite loss."""
        t = first_tensor(out)
        if (module.training and torch.is_grad_enabled() and not self.step % self.every and t is not None
                and t.is_floating_point() and len(self._output_flags) < _MAX_FLAGS):
            self._output_flags.append(finiteness_probe(t))

    def _note_inputs(self, tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Whether each floating tensor entering the model is finite, kept on the device (read at the
        sync): a non-finite batch is then named at its own step whatever `sync_every` is."""
        if self.disabled or self.step % self.every:
            return
        for name, t in tensors:
            if (t.is_floating_point() or t.is_complex()) and t.layout == torch.strided:
                self._inputs.append(name)
                self._input_flags.append(finiteness_probe(t))
            else:  # integer, bool: finite by type
                self._inputs_seen += 1
        if len(self._input_flags) > _MAX_FLAGS:  # max |v| is finite exactly when every v is
            self._input_flags = [[stack_scalars([v.float() for p in self._input_flags for v in p]).abs().amax()]]
            self._inputs = ["inputs of several forward calls"]

    def _on_clip(self, total: torch.Tensor) -> None:
        if not self.disabled:
            self._preclip.see(total)

    def _pre(self, opt: torch.optim.Optimizer, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        """Before the update: gradients and the logged loss belong to the current weights. With a
        closure (Lightning, LBFGS) forward and backward run inside step(): measure after its first call."""
        if self._off or self.step % self.every:
            return None
        return when_grads_final(args, kwargs, self._before_update)

    def _before_update(self, closure_loss: Any) -> None:
        self._in_update = True
        try:
            alarm = self._release_held()  # log_last() can no longer reach the held step
            if not self.disabled:
                self._measure_g(closure_loss)
            self._due += 1  # counted even when disabled: under DDP every rank syncs at the same steps
            if self._due >= self.sync_every:
                self._sync()
            if alarm is not None:
                raise alarm
        finally:
            self._in_update = False

    def _measure(self, closure_loss: Any) -> None:
        params = parameters(self.optimizer)
        with_grad, norms = grad_norms(params)  # read with every pending step's at the sync
        device: dict[str, Any] = {"inputs_ok": self._input_flags, "outputs_ok": self._output_flags}
        preclip = self._preclip.take()
        if preclip is not None:
            device["preclip"] = preclip
        if self._ratio is not None:  # the previous sampled step's update, measured right after it
            device["ratio"], self._ratio = self._ratio, None
        if self.step % self.sample_every == 0:
            with torch.no_grad():  # the pre-hook runs in the caller's grad mode
                device["param_norms"] = stack_scalars(torch._foreach_norm(params))
            activations: dict[str, dict[str, torch.Tensor]] = {}
            for name, (kind_, v) in self._tap.disarm().items():
                activations.setdefault(kind_, {})[name] = v
            device["activations"] = activations
            self._snapshot = self._samples.before(params)
        if closure_loss is not None and "loss" not in self._scalars:  # the loss a closure returned (Lightning)
            self._store(self._scalars, {"loss": closure_loss})
        self._pending.append({"step": self.step, "time": time.monotonic(), "scalars": self._scalars, "norms": norms,
                              "with_grad": with_grad, "params": params,
                              "lr": learning_rates(self.optimizer), "device": device,
                              "inputs": self._inputs, "seen": self._inputs_seen + len(self._inputs)})
        self._scalars, self._inputs, self._input_flags, self._output_flags = {}, [], [], []
        self._inputs_seen = 0

    def _post(self, opt: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        if self._off:
            return
        if not self.disabled:
            self._after_update_g()
        self.step += 1
        self._inputs, self._input_flags, self._output_flags, self._inputs_seen = [], [], [], 0

    def _after_update(self) -> None:
        if self._snapshot is not None:  # this step's real update, measured across step()
            self._ratio = self._samples.ratio(self._snapshot)
            self._snapshot = None
        coming = self.step + 1
        if coming % self.sample_every == 0 and coming % self.every == 0:
            self._tap.arm()  # measures the coming (sampled) step's forward pass only

    # ── sync, rules, sinks ───────────────────────────────────────────────────
    def _sync(self, final: bool = False) -> None:
        self._due = 0
        alarm = self._release_held()
        collected = self._guard(self._collect)() or []
        records = [record for record, _ in collected]
        if self._exchange is not None and self._exchange.live:
            notes = self._guard(self._exchange.share)(records, self.disabled) if not self.disabled \
                else self._exchange.share(None, self.disabled)
            self._notes += notes or []
            self._say_unchecked(notes or [])
            if not self._exchange.live and self.disabled:
                self._stand_down()
        if collected and not final and not self.disabled:
            self._held = collected[-1]
        if records or self._late_lines:
            self._guard(self._publish)(records, records if final else records[:-1])
        if alarm is not None:
            raise alarm

    def _collect(self) -> list[tuple[StepRecord, tuple]]:
        """The pending steps as records, each with what `_attribute` used: one device->host transfer
        for everything."""
        if not self._pending:
            return []
        pending, self._pending = self._pending, []
        all_norms, host = read_steps([e["norms"] for e in pending], [(e["scalars"], e["device"]) for e in pending])
        collected = []
        for entry, norms, (scalars, device) in zip(pending, all_norms, host):
            grouping = self._groupings.of(entry["with_grad"])
            record: StepRecord = {"step": entry["step"], "grad_norm": total(norms), "lr": entry["lr"], **scalars}
            if not self._kind_written:  # so a report rebuilt from the log judges update sizes as this one does
                record["second_moment"], self._kind_written = second_moment(self.optimizer), True
            if "preclip" in device:
                record["grad_norm_before_clip"] = device["preclip"]
            if "ratio" in device and math.isfinite(device["ratio"]):  # NaN: weights of norm 0, no ratio
                record["update_ratio"] = device["ratio"]
            if "param_norms" in device:  # a sampled step
                record["grad_norm_by_module"] = grouping.by_module(norms)
                record["param_norm"] = total(device["param_norms"])
                record["param_norm_by_module"] = self._groupings.of(entry["params"]).by_module(device["param_norms"])
                record.update(device["activations"])  # {"dead_fraction": {layer: v}, ...}
            if self._last_time is not None:
                record["steps_per_second"] = 1.0 / max(entry["time"] - self._last_time, 1e-9)
            self._last_time = entry["time"]
            evidence = (grouping.nonfinite(norms), entry["inputs"], device["inputs_ok"], device["outputs_ok"], entry["seen"])
            self._attribute(record, *evidence)
            collected.append((record, evidence))
        return collected

    def _release_held(self) -> TrainingAlarm | None:
        """Release the held record; an alarm it raises (on_error="raise") is returned, to be raised
        once this step's statistics are taken too."""
        if self._held is None or self.disabled:
            return None
        try:
            self._guard(self._release)()
        except TrainingAlarm as exc:
            return exc
        return None

    def _release(self) -> None:
        """Judge the record held back at the last sync, with the fields log_last() attached to it since
        (live as when the log is read back, where they are merged into it too)."""
        (record, evidence), self._held = self._held, None
        (late,), self._late = to_host([self._late]), {}
        if late:
            before = kind(record)
            record.update(late)
            if kind(record) != before:  # e.g. a loss logged after the step turned out non-finite
                self._attribute(record, *evidence, late=True)
            self._late_lines.append({"step": record["step"], **late})
        self._judge([record])

    def _attribute(self, record: StepRecord, bad_grads: list[str], inputs: list[str], ok: list[list[float]],
                   outputs_ok: list[list[float]], seen: int, late: bool = False) -> None:
        """Put into a non-finite step's record what the non-finite rule needs (see nonfinite.py); the
        first such step of the run also gets the costlier part: counts in the batch, the replay.
        `late`: again, once fields logged after the step changed what the record says."""
        bad_inputs = [n for n, probe in zip(inputs, ok) if not all(map(math.isfinite, probe))]
        locate(record, grads=bad_grads, inputs=record.get("nonfinite_inputs") or dict.fromkeys(bad_inputs))
        if kind(record) == 3 or self._attributed not in (None, record["step"]):
            return
        self._attributed = record["step"]
        held = not late and self._last_batch is not None and self._last_batch[0] == record["step"]
        checked = not late and self._checked is not None and self._checked[0] == record["step"]
        located = None
        if bad_inputs and (held or checked):
            tensors = tensors_in(self._checked[1], "batch") if checked else batch_tensors(*self._last_batch[1:])
            located = nonfinite_inputs(tensors, among=bad_inputs)
        if late:
            replayed: Any = ("the loss was logged after its step (log_last), on weights the update had changed: a "
                             "failing batch is replayed when the loss is logged before optimizer.step()")
        elif held and self._in_update and record["step"] == self.step:  # the batch, on the weights that produced it
            replayed = functools.partial(replay, self.model, *self._last_batch[1:])
        elif held:
            replayed = ("the run ended before this step's statistics were read, after its update: no replay on other "
                        "weights than those that produced it")
        else:
            replayed = (f"the step's batch was no longer held when its statistics were read (at step {self.step}; they "
                        f"are read every {self.sync_every} steps): Monitor(sync_every=1) replays a failing batch on "
                        "the weights that produced it")
        locate(record, inputs=located, inputs_checked=seen, replayed=replayed,
               output_finite=all(math.isfinite(v) for probe in outputs_ok for v in probe) if outputs_ok else None)

    def _publish(self, records: list[dict[str, Any]], judged: list[dict[str, Any]]) -> None:
        self._write(self._late_lines + records)  # a late line follows its step's record: readers merge them
        self._late_lines = []
        self._judge(judged)

    def _judge(self, records: list[dict[str, Any]]) -> None:
        new: list[Finding] = []
        for record in records:
            new += self._nonfinite.observe(record, self.records)
            new += self._rules.observe(record)
            self.history.add(record)
            self.records.append(record)
        self.findings += new
        for f in new:
            self._alarm(f)

    def _write(self, records: list[dict[str, Any]]) -> None:
        """One sanitising step for every sink (JSON-safe at any depth); a sink that fails is dropped
        with a warning, and the others and the checks go on."""
        clean = [plain(r) for r in records]
        for sink in list(self._sinks):
            try:
                sink.write(clean)
            except Exception as exc:
                self._sink_failed(sink, exc)

    def _sink_failed(self, sink: Any, exc: Exception) -> None:
        if sink in self._sinks:
            self._sinks.remove(sink)
        self.sink_errors.append(f"{type(sink).__name__}: {type(exc).__name__}: {exc}")
        warnings.warn(f"traindoctor: monitor sink failed ({self.sink_errors[-1]}); it is dropped, the checks go on",
                      RuntimeWarning, stacklevel=4)

    def _alarm(self, f: Finding) -> None:
        if f.severity != "error":
            return
        if self.on_error == "warn":
            warnings.warn(f"traindoctor: {f.code}: {f.observation}", RuntimeWarning, stacklevel=3)
        elif self.on_error == "raise":
            raise TrainingAlarm(f"{f.code}: {f.observation}")
