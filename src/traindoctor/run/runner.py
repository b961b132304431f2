"""`traindoctor run`: execute a training script in-process under observe-only hooks."""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Sequence, TextIO

from ..judge.recording import analyze
from ..vocabulary.finding import Finding, Hypothesis, finding
from ..vocabulary.report import Report
from ..vocabulary.triage import triage
from ..diagnosis.battery import could_not_check, examine
from ..diagnosis import experiments, loss_independence, loss_terms, state_path
from ..diagnosis.loss_terms import multi_term
from ..diagnosis.setup import NotApplicable
from ..judge.numerics import how_learned, why_not_learning
from ..judge import adversaries, probes as probe_rules, targets
from ..diagnosis.registry import Options, names
from ..diagnosis.setup import SetupError
from ..diagnosis.tree import Call
from ..measure.hooks import installed
from ..measure.printed import teed
from ..measure.recorder import STOPPING, Recorder, StopRun
from ..measure.records import RunSection
from ..measure.steps import learning_rates
from .script import Stopper, as_main, child_exit, exit_status, join_threads, run_as_main, started_threads, user_traceback
from ..judge.common import main_model
from ..judge.thresholds import DEAD_RELU_TRAINED, EXPERIMENT_STEPS, MIN_STEPS, MOST_STEPS

class ScriptNotFound(Exception):
    pass


def _script_error(exc: BaseException, rec: Recorder) -> Finding:
    text, location = user_traceback(exc)
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return finding(
        "script-error",
        f"the script raised {summary.splitlines()[-1]} after {rec.n_steps} optimizer steps",
        "run", evidence={"traceback": text, "exception": type(exc).__name__, "steps": rec.n_steps},
        location={**location, "step": rec.n_steps},
    )


def _exit_finding(rec: Recorder, exc: BaseException, how: str) -> Finding:
    """A non-zero exit status is the script saying it failed: a script-error with the status."""
    _, location = user_traceback(exc)
    return finding(
        "script-error", f"the script {how} after {rec.n_steps} optimizer steps", "run",
        evidence={"exit_status": rec.exit_status, "steps": rec.n_steps}, location={**location, "step": rec.n_steps},
        title="The training script exited with a failure status",
        hypotheses=[Hypothesis("the script chose to fail (a missing file, config or argument): its own message, "
                               "printed before the report, says why", "read the line that exits and the condition above it")],
        next_step="Fix what the script's exit condition reports, then run traindoctor again.",
    )


def _outcome(exc: BaseException | None, rec: Recorder) -> tuple[list[Finding], str | None]:
    """How the script ended, as the stop reason, findings, and an exception raised while it was being
    stopped (a consequence of the stop, e.g. a result a stopped thread never wrote: not a finding)."""
    if isinstance(exc, SystemExit):
        status = exit_status(exc.code)  # python prints a non-int code to stderr; so does this
        if status:
            rec.stop_reason, rec.exit_status = "exited", status
            how = f"exited with status {status}" + ("" if isinstance(exc.code, int) else f" (sys.exit({exc.code!r}))")
            return [_exit_finding(rec, exc, how)], None
    elif isinstance(exc, StopRun):
        if rec.stop_reason == "os-exit" and rec.exit_status:
            return [_exit_finding(rec, exc, f"called os._exit({rec.exit_status})")], None
    elif exc is not None and rec.stop_reason in STOPPING:
        return [], "".join(traceback.format_exception_only(type(exc), exc)).strip()
    elif isinstance(exc, KeyboardInterrupt):
        rec.stop_reason = "interrupted"
    elif exc is not None:  # the user's bug, reported as a finding
        rec.stop_reason = "script-error"
        return [_script_error(exc, rec)], None
    return [], None


def _passes(n: int, kind: str) -> str:
    return f"{n} {kind} pass{'es' * (n != 1)}"


def _could_not_check(rec: Recorder, failed: bool) -> list[str]:
    """Why the rules could not judge the training: what was (not) seen, and what to do."""
    out = []
    if rec.failure:
        out.append(f"traindoctor's recorder failed at step {rec.n_steps} ({rec.failure}) and stopped recording; "
                   "only what it saw before is analysed (a bug in traindoctor: please report it)")
    if rec.n_steps or failed:  # a crash or failing exit explains itself in a finding
        return out
    grad_calls = sum(i.grad_calls for i in rec.roots.values())
    nograd_calls = sum(i.nograd_calls for i in rec.roots.values())
    n = rec.processes_started
    elsewhere = (f"; the script started {n} process{'es' * (n != 1)}: training there is not visible "
                 "from this process — call traindoctor.Monitor inside the worker" if rec.processes_started else "")
    if rec.backward_calls:
        out.append(f"no torch.optim optimizer step was seen, only {_passes(rec.backward_calls, 'backward')}: updates "
                   "made by hand are not measured (only their direction is), so the update-size, learning-rate, zero_grad and "
                   "parameter checks did not run — step a torch.optim optimizer, or log the loss with traindoctor.Monitor" + elsewhere)
    elif rec.transform_calls or grad_calls:
        where = (f"{_passes(rec.transform_calls, 'forward')} inside torch.func transforms (grad, vmap)" if rec.transform_calls
                 else f"{_passes(grad_calls, 'forward')} with gradients enabled")
        out.append(f"the model ran {where}, but no backward() and no optimizer step were seen: gradients taken with "
                   "torch.func or torch.autograd.grad and applied by hand are not watched — use loss.backward() and a "
                   "torch.optim optimizer, or traindoctor.Monitor" + elsewhere)
    else:
        seen = f" ({_passes(nograd_calls, 'forward')} without gradients)" if nograd_calls else ""
        out.append(f"no training was seen: no optimizer step and no backward pass{seen}{elsewhere}"
                   + ("" if elsewhere else " — to probe a model without training it, use traindoctor checkup FILE:FUNCTION"))
    return out


def _probed_batch(rec: Recorder, model: Any) -> tuple[tuple, dict, Any]:
    """The probes' batch and targets: the last training call and the target its torch loss function received;
    with a loss written by hand (no torch loss function saw a target), the latest loss head on tape and the
    tensor it compares the outputs with — inputs and targets of one step either way."""
    tapes = rec.tapes.get(id(model.module))
    if model.last_target is None and tapes:
        target = tapes[-1].compared_target()
        if target is not None:
            return (*tapes[-1].batch, target)
    return (*model.last_call, model.last_target)


def _cheap_probes(model: Any, args: tuple, kwargs: dict, target: Any, start: dict[str, Any] | None,
                  renewed: frozenset[tuple[str, str]]) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The battery's cheap probes on the model as training left it, with its last training batch and the
    target its loss received (targets an input shifted ahead make causality required); a trained model's dead ReLU
    layer is judged at DEAD_RELU_TRAINED; `start`, its state before the first update, shows what training
    changed; `renewed`, the state the script sets afresh before each batch."""
    if (args and kwargs) or any(isinstance(a, dict) for a in args):  # a dict passed positionally stays positional
        inputs: Any = Call((tuple(args), dict(kwargs)))
    else:
        inputs = dict(kwargs) if kwargs else (args[0] if len(args) == 1 else tuple(args))
    try:
        outcome = examine(model, (inputs, target), probes=names(cheap=True), options=Options(
            dead_relu=DEAD_RELU_TRAINED, trained=True, start=start, renewed=renewed))
    except SetupError as exc:
        return [], [{"name": "cheap-probes", "status": "skipped", "note": str(exc)}]
    return outcome.findings, outcome.records


def _loss_independence(model: Any, tape: Any, found: list[Finding]) -> dict[str, Any]:
    """The loss on tape, checked for samples that influence each other's gradients; its record."""
    try:
        new, record = loss_independence.check(model, tape)
    except NotApplicable as exc:
        return {"name": loss_independence.NAME, "status": "skipped", "note": str(exc)}
    except Exception as exc:  # a bug of ours: the other findings stand
        return {"name": loss_independence.NAME, "status": "failed", "note": f"probe failed: {type(exc).__name__}: {exc}"}
    found += new
    return {"name": loss_independence.NAME, "status": "ran", **record}


def _state_path(model: Any, tape: Any, found: list[Finding], severity: str) -> dict[str, Any]:
    """A module called several times in the taped forward whose later calls read its earlier state past a cut
    (diagnosis/state_path.py); its record. Asked whether or not the loss learns: weights that learn one step
    deep still lower the loss."""
    try:
        new, record = state_path.check(model, tape, severity)
    except Exception as exc:  # a bug of ours, or a forward the copy cannot replay: the other findings stand
        return {"name": state_path.NAME, "status": "failed", "note": f"probe failed: {type(exc).__name__}: {exc}"}
    found += new
    return record


def _optimizer_of(rec: Recorder, model: Any) -> Any:
    """The optimizer stepping most of the model's parameters."""
    mine = {id(p) for p in model.parameters()}
    best = max(rec.optimizers.values(), key=lambda st: sum(id(p) in mine for p in st.params()), default=None)
    return best.opt if best is not None and any(id(p) in mine for p in best.params()) else None


def _experiments(rec: Recorder, model: Any, when: bool | None,
                 found: list[Finding]) -> tuple[list[Finding], dict[str, Any]]:
    """The differential diagnosis (diagnosis/experiments.py): run when the recorded run does not learn, or
    when asked (`when` True); never when `when` is False. While the loss learns, parameters that never got a
    gradient (`found` holds optimizer-params-unused) still call for one question: cut, or unused?"""
    optimizer = _optimizer_of(rec, model.module)
    # The model's own optimizer steps: threads or several models share the run's count.
    steps = next((st.steps for st in rec.optimizers.values() if st.opt is optimizer), rec.n_steps)
    short = min(steps, rec.n_steps) < EXPERIMENT_STEPS
    reason = None if short and when is None else why_not_learning(rec) if when is None else (
        "asked for (--experiments)" if when else None)
    # In a game a player's loss measures the balance, not learning: its not falling calls for no experiment.
    game = when is None and rec.nonfinite is None and reason is not None and adversaries.in_game(rec)
    if game:
        reason = None
    unused = when is None and reason is None and (any(f.code == "optimizer-params-unused" for f in found)
                                                  or bool(_zero_gradient(rec, optimizer)))
    # A term of a sum cut from the weights before its layer leaves the loss learning through the other terms
    # (a VAE's sample drawn under no_grad): its path is asked of every multi-term loss, at one backward a term.
    tapes = rec.tapes.get(id(model.module), [])
    terms = when is None and reason is None and not unused and bool(tapes) and multi_term(tapes[-1])
    made = rec.made_targets >= MOST_STEPS * rec.regression_calls > 0
    by_hand = frozenset().union(*(st.moved_by_hand() for st in rec.optimizers.values() if st.opt is optimizer))
    index = next((st.index for st in rec.optimizers.values() if st.opt is optimizer), None)
    rates = [(r["lr"][0], r["loss"]) for r in rec.records if r["optimizer"] == index and r["lr"]]
    material = experiments.Material(model.module, tapes, optimizer, rec.initial_states.get(id(model.module)), made,
                                    by_hand, rates, tuple(f.code for f in found if f.severity == "error"))
    if reason is None and not unused and not terms:
        if when is False:
            return [], {"ran": False, "why": "--no-experiments"}
        if game:
            return [], {"ran": False, "why": "two models play a game: a player's loss need not fall while its "
                                             "opponent learns (--experiments runs them anyway)"}
        if short:
            return [], {"ran": False, "why": f"the model's optimizer took {min(steps, rec.n_steps)} steps, fewer "
                                             f"than one experiment's {EXPERIMENT_STEPS}"}
        return _pairing(material)
    reason = reason or ("some parameters the optimizer holds never received a non-zero gradient" if unused else
                        "the loss is a sum of terms: is the path to one of them cut?")
    try:
        new, observations = experiments.run(material, reason, arms=not (unused or terms))
    except experiments.CannotExperiment as exc:
        return [], {"ran": False, "why": f"{reason}, but {exc}"}
    if made and not (unused or terms):
        observations.append({
            "name": "held-out-batch", "question": "Do the targets follow the inputs (a permutation test)?",
            "measured": {"made_targets": rec.made_targets, "regression_calls": rec.regression_calls},
            "outcome": f"not run: {rec.made_targets} of {rec.regression_calls} regression targets were made by a model "
                       "called without gradients in the same step (a bootstrapped value, a teacher's): no data "
                       "whose pairing with the inputs could be questioned", "keeps": [], "kills": []})
    return new, {"ran": True, "why": reason, "observations": observations}


def _zero_gradient(rec: Recorder, optimizer: Any) -> list[int]:
    """The ids of trainable parameters `optimizer` holds that had a gradient at a recorded step, exactly zero at
    every one: cut from the loss by a call of zero derivative (a rounding, a sampler), or unused — which, the
    gradient-path experiment tells."""
    st = next((st for st in rec.optimizers.values() if st.opt is optimizer), None)
    if st is None or st.steps < MIN_STEPS:
        return []
    return [id(p) for p in st.params() if p.requires_grad and id(p) in st.ever_grad and id(p) not in rec.nonzero_grad]


def _pairing(material: Any) -> tuple[list[Finding], dict[str, Any]]:
    """A loss that learns may have learned the targets' spread alone: the permutation test, when the trained
    model's loss does not use the pairing of inputs and targets (as a whole or in one target component)."""
    why = "the loss learns, but the trained model's loss does not use the pairing of inputs and targets"
    try:
        tested = experiments.pairing(material)
    except Exception as exc:  # a bug of ours, or a head the test cannot replay: the other findings stand
        return [], {"ran": False, "why": f"the loss learns (the pairing check failed: {type(exc).__name__}: {exc})"}
    if tested is None:
        return [], {"ran": False, "why": "the loss learns"}
    new, observations = tested
    for o in observations:
        o["why_run"] = why
    return new, {"ran": True, "why": why, "observations": observations}


def run_script(script: str | os.PathLike, args: Sequence[str] = (), *, max_steps: int = 300,
               max_seconds: float | None = None, probes: bool = True, experiments_: bool | None = None,
               stdout: TextIO | None = None) -> Report:
    """Run SCRIPT as `__main__` under traindoctor's hooks and return the diagnosis.

    Stops after `max_steps` steps of the busiest optimizer (0: run to completion) or `max_seconds`. The experiments of
    the differential diagnosis run when the loss does not learn (`experiments_` None), always (True) or
    never (False).
    The script's own exceptions and failing exit statuses become a `script-error` finding;
    `os._exit` ends the script, not the report. `stdout` redirects what the script prints
    (the report itself is never printed here). A forked child that returns from the script
    exits as python would, without a report.
    """
    path = Path(script)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "no such file"
        raise ScriptNotFound(f"{script}: {what}; pass the path of a Python training script")
    rec = Recorder(max_steps=max_steps, max_seconds=max_seconds)
    pid, before = os.getpid(), {t.ident for t in threading.enumerate()}
    started = time.monotonic()
    with as_main(os.fspath(script), list(args), stdout) as main_file, installed(rec), Stopper(rec, max_seconds) as stopper, \
            teed(rec.printed, lambda: rec.n_steps):
        try:
            try:
                run_as_main(main_file)
            finally:
                stopper.finish()
        except BaseException as exc:  # sorted out by _outcome
            ended: BaseException | None = exc
        else:
            ended = None
        if os.getpid() != pid:
            child_exit(ended)
        threads_running = join_threads(started_threads(before), rec)
    found, after_stop = _outcome(ended, rec)
    rec.stop_reason = rec.stop_reason or "completed"
    duration = time.monotonic() - started
    gc.collect()  # drop frames of the stopped script (and any DataLoader workers they hold)
    rule_findings, internal_errors = analyze(rec)
    found += rule_findings
    for note in internal_errors:
        print(f"traindoctor: {note} (a bug in traindoctor; other rules still ran)", file=sys.stderr)
    probe_records: list[dict[str, Any]] = []
    model = main_model(rec)
    # Threads the script left running still use the model and torch's global state, while the probes would
    # copy the model, hook every module's forward, silence warnings and rewind the RNG process-wide.
    threads_block = probes and model is not None and model.last_call is not None and threads_running > 0
    if probes and model is not None and model.last_call is not None and not threads_block:
        try:
            probe_findings, probe_records = _cheap_probes(model.module, *_probed_batch(rec, model),
                                                          rec.initial_states.get(id(model.module)), model.renewed_state)
        except Exception as exc:  # a bug of ours: the rules' findings still stand
            internal_errors.append(f"the probes failed: {type(exc).__name__}: {exc}")
            print(f"traindoctor: {internal_errors[-1]} (a bug in traindoctor)", file=sys.stderr)
        else:
            found += probe_rules.follow_consequence(probe_findings, why_not_learning(rec), how_learned(rec))
    if probes and model is not None and not threads_block and rec.tapes.get(id(model.module)):
        probe_records.append(_loss_independence(model.module, rec.tapes[id(model.module)][-1], found))
        probe_records.append(_state_path(model.module, rec.tapes[id(model.module)][-1], found,
                                         "error" if why_not_learning(rec) else "warning"))
        # In a game a player's terms (a critic's real and fake scores) measure the balance, not learning.
        live = [] if adversaries.in_game(rec) else rec.live_terms.get(id(model.module), [])
        probe_records.append(loss_terms.run_record(model.module, rec.tapes[id(model.module)][-2:],
                                                   rec.initial_states.get(id(model.module)), found, live))
    experiment_section: dict[str, Any] = {"ran": False, "why": "no model was trained"}
    if model is not None and not threads_block and experiments_ is not False:
        try:
            experiment_findings, experiment_section = _experiments(rec, model, experiments_, found)
        except Exception as exc:  # a bug of ours: the rules' findings still stand
            internal_errors.append(f"the experiments failed: {type(exc).__name__}: {exc}")
            print(f"traindoctor: {internal_errors[-1]} (a bug in traindoctor)", file=sys.stderr)
        else:
            found += experiment_findings
    elif experiments_ is False:
        experiment_section = {"ran": False, "why": "--no-experiments"}
    # The rules judged the training; the probes add to it. Probes that do not apply (no batch axis)
    # take nothing away, but probes that failed leave part of the diagnosis unchecked.
    probe_gaps = could_not_check(probe_records) if any(r.get("status") == "failed" for r in probe_records) else []
    probe_gaps += [e for e in internal_errors if e.startswith("the probes failed")]
    section: RunSection = {
        "script": os.fspath(script), "args": list(args), "stopped": rec.stop_reason, "steps": rec.n_steps,
        "seconds": round(duration, 3), "backward_calls": rec.backward_calls,
        "optimizers": [{"class": type(st.opt).__name__, "steps": st.steps, "lr": learning_rates(st.opt)}
                       for st in rec.optimizers.values()],
        "schedulers": list(rec.schedulers.values()),
        "models": [{"class": type(i.module).__name__, "training_calls": i.grad_calls, "eval_calls": i.nograd_calls}
                   for i in rec.roots.values()],
        "loss_functions": rec.loss_calls,
        "probes": probe_records,
        "experiments": experiment_section,
        "internal_errors": internal_errors,
        "processes_started": rec.processes_started,
        "threads_running": threads_running,
        "steps_record": rec.records,
    }
    if rec.exit_status is not None:
        section["exit_status"] = rec.exit_status
    if after_stop:
        section["after_stop"] = after_stop
    command = " ".join(["run", os.fspath(script), *args])
    unchecked = _could_not_check(rec, any(f.code == "script-error" for f in found))
    try:
        unchecked += targets.unchecked(rec)
    except Exception as exc:  # a bug of ours: the findings stand
        internal_errors.append(f"the RL target notes failed: {type(exc).__name__}: {exc}")
    unchecked += [f"the probes on the last training batch: {gap}" for gap in probe_gaps]
    if threads_block:
        unchecked.append(f"the probes on the last training batch did not run: {threads_running} thread(s) the script "
                         "started were still running after it stopped, and probing beside them would change what they "
                         "compute — let the threads finish (join them) or run traindoctor checkup on the model")
    return Report(command=command, findings=triage(probe_rules.forecast_confirmed(found)), sections={"run": section},
                  unchecked=unchecked)
