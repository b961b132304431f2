"""`traindoctor.Monitor`: a training monitor cheap enough to leave on.

Per monitored step it runs one fused `torch._foreach_norm` over the gradients, before the update,
and keeps the result on the device; every `sync_every` steps the buffered tensors are moved to the
host in one transfer (before that step's update, so with `sync_every=1` a non-finite loss is
replayed on exactly the weights that produced it), turned into records, checked by the online
rules, written to the sinks and kept in a flight recorder (the last `flight_steps` records go into the report). A bug inside the monitor
disables it with one warning; it never interrupts training (unless `on_error="raise"`, which
raises `TrainingAlarm` on purpose when a rule fires an error).
"""

from __future__ import annotations

import functools
import json
import math
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from ..findings import Finding, Hypothesis, Report, finding, triage
from ..record.activations import ActivationTap
from ..record.clipping import watch_clipping
from ..record.replay import first_nonfinite_module
from ..record.stats import nonfinite_summary, stack_scalars, tensors_in
from .history import History
from .rules import OnlineRules
from .sinks import make_sinks

ON_ERROR = ("log", "warn", "raise")


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
        self.records: deque[dict[str, Any]] = deque(maxlen=flight_steps)
        self.history = History()
        self.findings: list[Finding] = []
        self.disabled: str | None = None
        self._rules = OnlineRules()
        self._pending: list[dict[str, Any]] = []
        self._scalars: dict[str, Any] = {}
        self._snapshot: list[torch.Tensor] | None = None
        self._samples = UpdateSampler()
        self._ratio: torch.Tensor | None = None
        self._preclip: torch.Tensor | None = None
        self._last_batch: tuple[tuple, dict] | None = None
        self._names: list[str] | None = None
        self._started = time.monotonic()
        self._nonfinite_seen = False
        dist = torch.distributed
        self.rank, self.world = (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)
        if self.rank != 0:
            self.log_dir = None  # only rank 0 writes
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self._sinks = make_sinks(sinks, self.log_dir) if self.rank == 0 else []
        self._groups: tuple[list[str], list[int]] | None = None
        self._tap = ActivationTap(model)
        self._tap.arm()  # step 0 is sampled
        self._handles = [
            optimizer.register_step_pre_hook(self._guard(self._pre)),
            optimizer.register_step_post_hook(self._guard(self._post)),
            model.register_forward_pre_hook(self._guard(self._capture), with_kwargs=True),
        ]
        self._restore_clip = watch_clipping(self._on_clip)

    # ── public API ───────────────────────────────────────────────────────────
    def log(self, **scalars: Any) -> None:
        """Log scalars for the coming optimizer step; tensors are kept on the device (no sync)."""
        if self.disabled:
            return
        for k, v in scalars.items():
            self._scalars[k] = v.detach() if isinstance(v, torch.Tensor) else float(v)

    def log_last(self, **scalars: Any) -> None:
        """Attach scalars to the step that just finished (callbacks that log after the step)."""
        if self.disabled:
            return
        target = self._pending[-1]["scalars"] if self._pending else self._scalars
        for k, v in scalars.items():
            target[k] = v.detach() if isinstance(v, torch.Tensor) else float(v)

    def flush(self) -> None:
        self._guard(self._flush)()

    def report(self) -> Report:
        self.flush()
        section = {"steps": self.step, "seconds": round(time.monotonic() - self._started, 3), "disabled": self.disabled,
                   "flight_recorder": list(self.records), "history": self.history.to_dict(),
                   "log_dir": str(self.log_dir) if self.log_dir else None}
        return Report(command="monitor", findings=triage(list(self.findings)), sections={"monitor": section})

    def close(self) -> Report:
        report = self.report()
        for h in self._handles:
            h.remove()
        self._handles = []
        self._restore_clip()
        self._tap.disarm()
        for sink in self._sinks:
            sink.close()
        self._sinks = []
        if self.log_dir is not None:
            from ..render.json_report import render

            (self.log_dir / "report.json").write_text(render(report))
        return report

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ── hooks ────────────────────────────────────────────────────────────────
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
                self.disabled = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"traindoctor monitor disabled itself after an internal error ({self.disabled}); "
                              "training continues unmonitored", RuntimeWarning, stacklevel=2)
                for h in self._handles:
                    h.remove()
                return None
        return guarded

    def _capture(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if module.training and torch.is_grad_enabled():
            self._last_batch = (args, kwargs)  # references only: replayed if a NaN appears

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def _on_clip(self, total: torch.Tensor) -> None:
        if not self.disabled and self._preclip is None:  # the first clip of a step sees the raw gradients
            self._preclip = total.detach()

    def _pre(self, opt: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        """Runs before the update: gradients and the logged loss belong to the current weights, so a
        flush here can replay a non-finite batch on the very weights that produced it."""
        if self.step % self.every:
            return
        params = self._params()
        if self._names is None or len(self._names) != len(params):  # first step, or a param group was added
            lookup = {id(p): n for n, p in self.model.named_parameters()}
            self._names, self._groups = [lookup.get(id(p), "<unnamed>") for p in params], None
        grads = [p.grad if p.grad is not None else torch.zeros((), device=p.device) for p in params]
        norms = torch._foreach_norm(grads)  # stacked with every pending step's at the sync: one op, not one per step
        device: dict[str, Any] = {}
        if self._preclip is not None:
            device["preclip"] = self._preclip
        if self._ratio is not None:  # the previous sampled step's update, measured right after it
            device["ratio"], self._ratio = self._ratio, None
        if self.step % self.sample_every == 0:
            with torch.no_grad():  # the pre-hook runs in the caller's grad mode
                device["param_norms"] = stack_scalars(torch._foreach_norm(params))
            activations: dict[str, dict[str, torch.Tensor]] = {}
            for name, (kind, v) in self._tap.disarm().items():
                activations.setdefault(kind, {})[name] = v
            device["activations"] = activations
            self._snapshot = self._samples.before(params)
        self._pending.append({"step": self.step, "time": time.monotonic(), "scalars": self._scalars, "norms": norms,
                              "lr": [float(g["lr"]) for g in opt.param_groups], "device": device})
        self._scalars, self._preclip = {}, None
        if len(self._pending) >= self.sync_every:
            self._flush()

    def _post(self, opt: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
        if self._snapshot is not None:  # this step's real update, measured across step()
            self._ratio = self._samples.ratio(self._snapshot)
            self._snapshot = None
        self.step += 1
        if self.step % self.sample_every == 0 and self.step % self.every == 0:
            self._tap.arm()  # measures the coming (sampled) step's forward pass only

    # ── sync, rules, sinks ───────────────────────────────────────────────────
    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        all_norms = stack_scalars([t for e in pending for t in e["norms"]])
        # one device->host transfer for everything pending
        flat, *host = _to_host([all_norms] + [(e["scalars"], e["device"]) for e in pending])
        records, new, previous, offset = [], [], None, 0
        for entry, (scalars, device) in zip(pending, host):
            # per entry: a param group added mid-run changes the count
            norms, offset = flat[offset:offset + len(entry["norms"])], offset + len(entry["norms"])
            record = {"step": entry["step"], "grad_norm": math.sqrt(sum(v * v for v in norms)), "lr": entry["lr"], **scalars}
            if "preclip" in device:
                record["grad_norm_before_clip"] = device["preclip"]
            if "ratio" in device:
                record["update_ratio"] = device["ratio"]
            if "param_norms" in device:  # a sampled step
                record["grad_norm_by_module"] = self._by_module(norms)
                record["param_norm"] = math.sqrt(sum(v * v for v in device["param_norms"]))
                record["param_norm_by_module"] = self._by_module(device["param_norms"])
                record.update(device["activations"])  # {"dead_fraction": {layer: v}, ...}
            if previous is not None:
                record["steps_per_second"] = 1.0 / max(entry["time"] - previous, 1e-9)
            previous = entry["time"]
            records.append(record)
            new += self._check_nonfinite(record, norms)
        if self.world > 1:
            new = self._across_ranks(records, new)
        for record in records:
            new += self._rules.observe(record)
            self.history.add(record)
        self.records.extend(records)
        for sink in self._sinks:
            sink.write(records)
        for f in new:
            self._raise_finding(f)

    def _by_module(self, per_param: list[float]) -> dict[str, float]:
        """L2 norms per owning module (`encoder.layers.0.attn` for `encoder.layers.0.attn.in_proj_weight`)."""
        if self._groups is None or len(self._groups[1]) != len(per_param):  # a step from before a group was added
            owners = [n.rpartition(".")[0] or "<root>" for n in (self._names or [])[:len(per_param)]]
            order = list(dict.fromkeys(owners))
            self._groups = (order, [order.index(o) for o in owners])
        order, index = self._groups
        sq = [0.0] * len(order)
        for i, v in zip(index, per_param):
            sq[i] += v * v
        return {name: math.sqrt(x) for name, x in zip(order, sq)}

    def _across_ranks(self, records: list[dict[str, Any]], local: list[Finding]) -> list[Finding]:
        """DDP: gradients are already all-reduced, so norms agree across ranks; losses are averaged,
        and a rank's own non-finite finding is shared with its rank number (one collective per flush)."""
        dist = torch.distributed
        shared: list[Any] = [None] * self.world
        dist.all_gather_object(shared, ([r.get("loss") for r in records], [f.to_dict() for f in local]))
        for i, record in enumerate(records):
            values = [losses[i] for losses, _ in shared if losses[i] is not None]
            if values:
                record["loss"] = sum(values) / len(values)
                bad = [rank for rank, (losses, _) in enumerate(shared) if losses[i] is not None and not math.isfinite(losses[i])]
                if bad:
                    record["nonfinite_ranks"] = bad
        out = []
        for rank, (_, findings) in enumerate(shared):
            for f in findings:
                f["location"]["rank"] = rank
                f["observation"] = f"rank {rank}: {f['observation']}"
                out.append(Finding(**{**f, "hypotheses": [Hypothesis(**h) for h in f["hypotheses"]]}))
        # One root cause: a rank whose own data or forward went non-finite explains the NaN gradients
        # that the all-reduce then spreads to every other rank.
        order = {"nonfinite-input": 0, "nonfinite-forward": 1, "nonfinite-backward": 2}
        return sorted(out, key=lambda f: (order.get(f.code, 3), f.location["rank"]))[:1]

    def _check_nonfinite(self, record: dict[str, Any], norms: list[float]) -> list[Finding]:
        if self._nonfinite_seen:
            return []
        loss = record.get("loss")
        bad_grads = [n for n, v in zip(self._names or [], norms) if not math.isfinite(v)]
        if loss is not None and not math.isfinite(loss):
            self._nonfinite_seen = True
            return [self._explain_loss(record)]
        if bad_grads:
            self._nonfinite_seen = True
            return [finding(
                "nonfinite-backward", f"step {record['step']}: gradients of {len(bad_grads)} parameters are non-finite "
                f"while the loss is {loss}: " + ", ".join(f"`{n}`" for n in bad_grads[:4]), "monitor",
                evidence={"parameters": bad_grads[:20], "flight_recorder": list(self.records)[-20:]},
                location={"step": record["step"], "module": bad_grads[0]})]
        return []

    def _explain_loss(self, record: dict[str, Any]) -> Finding:
        step = record["step"]
        evidence: dict[str, Any] = {"flight_recorder": list(self.records)[-20:]}
        if step != self.step:
            evidence["caveat"] = (f"statistics were synced at step {self.step}: the batch replayed is that step's, on "
                                  "weights already updated; Monitor(sync_every=1) replays the failing batch itself")
        if self._last_batch is not None:
            args, kwargs = self._last_batch
            for name, t in tensors_in({"args": list(args), **kwargs}):
                bad = nonfinite_summary(t)
                if bad:
                    return finding("nonfinite-input", f"step {step}: the loss is {record['loss']}; the latest batch's "
                                   f"`{name}` holds {bad['nonfinite']} non-finite values", "monitor",
                                   evidence={**evidence, "input": bad}, location={"step": step, "tensor": name})
            replay = first_nonfinite_module(self.model, args, kwargs)
            evidence["replay"] = replay
            if replay.get("module"):
                return finding("nonfinite-forward", f"step {step}: the loss is {record['loss']}; replaying the latest batch "
                               f"on a copy, module `{replay['module']}` ({replay['type']}) turns finite inputs into NaN/Inf",
                               "monitor", evidence=evidence, location={"step": step, "module": replay["module"]})
        return finding("nonfinite-forward", f"step {step}: the loss is {record['loss']}", "monitor", evidence=evidence,
                       location={"step": step})

    def _raise_finding(self, f: Finding) -> None:
        self.findings.append(f)
        if f.severity != "error":
            return
        if self.on_error == "warn":
            warnings.warn(f"traindoctor: {f.code}: {f.observation}", RuntimeWarning, stacklevel=3)
        elif self.on_error == "raise":
            raise TrainingAlarm(f"{f.code}: {f.observation}")


_RATIO_SAMPLE = 4096  # elements per tensor kept for the update ratio


class UpdateSampler:
    """‖Δθ‖/‖θ‖ of one step, estimated from an evenly strided sample of at most _RATIO_SAMPLE
    elements per tensor. The strided views are made once and kept (the optimizer updates the
    parameters in place, so the views see every update); they are rebuilt when a parameter's
    storage changes (`p.data = ...`). A sample's squared norm is scaled by numel / sample size,
    so large tensors weigh as much as they do in the full norm."""

    def __init__(self) -> None:
        self._key: tuple[int, ...] = ()
        self._views: list[torch.Tensor] = []
        self._scale: torch.Tensor | None = None

    def before(self, params: list[torch.Tensor]) -> list[torch.Tensor]:
        key = tuple(p.data_ptr() for p in params)
        if key != self._key:
            flat = [p.detach().reshape(-1) for p in params]
            self._views = [f[:: max(1, f.numel() // _RATIO_SAMPLE)] for f in flat]
            self._scale = torch.tensor([f.numel() / max(1, v.numel()) for f, v in zip(flat, self._views)])
            self._key = key
        return torch._foreach_mul(self._views, 1.0)  # copies of the samples, in one fused op

    def ratio(self, before: list[torch.Tensor]) -> torch.Tensor:
        delta = stack_scalars(torch._foreach_norm(torch._foreach_sub(self._views, before))).float()
        weight = stack_scalars(torch._foreach_norm(before)).float()
        both = torch.stack([delta, weight]).square_().mul_(self._scale.to(delta.device)).sum(1).sqrt_()
        return both[0] / both[1].clamp_min(1e-30)


def _to_host(entries: list[Any]) -> list[Any]:
    """The same nested structures with every tensor read in one transfer: 0-d tensors become
    floats, vectors lists of floats."""
    leaves = [t.detach().float().reshape(-1) for t in _tensors(entries)]
    if not leaves:
        return entries
    try:
        flat = torch.cat(leaves).cpu().tolist()
    except RuntimeError:  # tensors on several devices
        flat = torch.cat([t.cpu() for t in leaves]).tolist()
    return _rebuild(entries, iter(flat))


def _tensors(obj: Any) -> Iterable[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


def _rebuild(obj: Any, values: Iterable[float]) -> Any:
    if isinstance(obj, torch.Tensor):
        taken = [next(values) for _ in range(obj.numel())]
        return taken[0] if obj.dim() == 0 else taken
    if isinstance(obj, dict):
        return {k: _rebuild(v, values) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_rebuild(v, values) for v in obj)
    return obj


def load_run(run_dir: Path) -> Report:
    """A Report from a monitor's log directory (its report.json, else rebuilt from monitor.jsonl)."""
    from .sinks import read_jsonl

    report_file, log = run_dir / "report.json", run_dir / "monitor.jsonl"
    if report_file.is_file():
        data = json.loads(report_file.read_text())
        findings = [Finding(**{**f, "hypotheses": [Hypothesis(**h) for h in f["hypotheses"]]}) for f in data["findings"]]
        return Report(command=f"report {run_dir}", findings=findings, sections={"monitor": data.get("monitor", {})})
    if log.is_file():
        rules, found, history = OnlineRules(), [], History()
        records = read_jsonl(log)
        for r in records:
            r = {k: (float(v) if v in ("nan", "inf", "-inf") else v) for k, v in r.items()}
            found += rules.observe(r)
            history.add(r)
        return Report(command=f"report {run_dir}", findings=triage(found),
                      sections={"monitor": {"steps": len(records), "flight_recorder": records[-200:],
                                            "history": history.to_dict()}})
    raise FileNotFoundError(f"{run_dir}: no report.json or monitor.jsonl (is it a traindoctor monitor log_dir?)")
