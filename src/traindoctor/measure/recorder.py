"""The Recorder: the evidence gathered while a training script runs.

Every handler here only *reads* tensors. It is called by the global hooks of
`measure.hooks`; the rules in `traindoctor.judge` turn what it stored into findings. The step
statistics are measured by measure/steps.py, as the Monitor measures them; the first non-finite
step is a record with the Monitor's non-finite fields (measure/localise.py).
Host syncs: the loss at each backward; gradient norms, pre-clip norms and update ratios are read
in batches of steps (`flush`); a few more on sampled steps. Costs are in docs/performance.md.

Threads: a script may train in several threads at once. The step in progress (module depth,
losses since the last step, zero_grad/backward order) is kept per thread, and a handler reads
only tensors of the optimizers and models its own thread trains: reading another thread's
`.grad` while its backward writes it corrupts the heap. Handlers run one at a time (a lock).
A forked child keeps a copy of the Recorder but records nothing: it cannot report.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import math
import os
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
from torch import nn

from . import actions, alike, carried, leaves, losses, squashes
from .actions import Actions
from .frames import PKG_DIR, TORCH_DIR, user_frame
from .localise import locate, nonfinite_inputs, replay
from .replay import first_nonfinite_gradient
from .nograd_calls import NoGradCalls
from .nograd_feeds import WATCHED_CALLS, NoGradFeeds
from .fed_back import FedBack
from .provenance import Provenance
from .twins import Twins
from .bootstrap import Bootstrap
from .returns import Returns
from .norm_batches import NormBatches, Sampler
from .batches import BatchColumns
from .printed import Printed
from .records import FirstLoss, InputScale, LossObservation, LossSigns, StepRecord
from .stats import batch_tensors, feature_scale
from .tape import Tape, TapeRecorder, initial_state
from .adversaries import Adversaries
from .descent import DescentCheck, picked
from .steps import (Groupings, PreClip, UpdateSampler, grad_norms, learning_rates, parameter_names, parameters,
                    read_steps, to_host, total)

_INTERNAL: contextvars.ContextVar[bool] = contextvars.ContextVar("traindoctor_internal", default=False)
_MODE_TYPES = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)
_MAX_RECORDS = 50_000
_SCALE_COLUMNS = 4096  # input feature columns whose scale is kept, largest first
_PROBES_PER_OPTIMIZER = 4
_FLUSH_EVERY = 32  # steps whose gradient norms are read from the device together
_JUDGED_FIRST, _JUDGED_EVERY = 12, 25  # backward passes whose graph is walked for the weights the loss ran through
# The step budget counts loop iterations: the steps of the busiest optimizer, so a GAN or an actor-critic
# sees as many iterations as a classifier. All optimizers' steps together stop the run at this many budgets
# (an optimizer per layer, or a fresh model and optimizer per task).
_ALL_OPTIMIZERS_BUDGETS = 2
_ON_DEVICE = ("grad_norm_before_clip", "update_ratio", "target_scale")  # record fields measured as tensors, read at the flush
# Steps recorded (gradient norms, LR, loss): every step of the first _RECORD_WARMUP, then every
# _RECORD_EVERY-th, which keeps sub-millisecond steps within 10% (docs/performance.md). Losses
# are checked at every backward; non-finite gradients on unrecorded steps still show, as
# non-finite parameters once the loss turns (see on_backward).
ERASE_CHECKS = 64  # zero_grad() calls after an unstepped backward() that are looked at: a bound on work
_RECORD_WARMUP = 20
_RECORD_EVERY = 4
# Training calls whose loss head is put on tape (measure/tape.py) for the experiments: the first two, then
# every _TAPE_EVERY-th, so the latest tapes are near the end of the run (a taped step costs about a
# millisecond of Python per call in the head: docs/performance.md). _TAPES_KEPT: the batch the experiments
# fit and the held-out batches of their permutation test (judge/thresholds.py HELD_OUT_BATCHES).
_TAPE_EVERY = 50
LIVE_KEPT = 2  # the first and the latest measurements of loss terms off tape, like run's initial and final weights
_TAPES_KEPT = 4
_VIEW_SCRAMBLES = 8  # distinct lines kept
# A normalization straight after a weight layer divides out any common scale of that layer's input.
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)


class StopRun(BaseException):
    """Raised inside the script to stop it once the step or time budget is spent.

    A BaseException so that the script's own `except Exception` does not swallow it.
    """


# Stop reasons after which every hooked call raises StopRun (in whichever thread makes it).
STOPPING = ("max-steps", "max-seconds", "os-exit")
_LIVE: weakref.WeakSet = weakref.WeakSet()


def _forked() -> None:
    for rec in list(_LIVE):
        rec.forked = True


os.register_at_fork(after_in_child=_forked)


def _in_transform() -> bool:
    """Inside torch.func's grad/vmap, tensors are wrappers that must not be kept past the call."""
    return torch._C._functorch.maybe_current_level() is not None


@contextmanager
def internal_calls() -> Iterator[None]:
    """Calls made inside come from traindoctor itself (a probe calling the user's loss on a copy):
    they have no location in the user's code."""
    token = _INTERNAL.set(True)
    try:
        yield
    finally:
        _INTERNAL.reset(token)


def user_location(always: bool = False) -> dict[str, Any]:
    """file:line of the innermost frame outside torch and traindoctor; empty inside `internal_calls`, unless
    `always` (an experiment on a copy naming the user's line it ran through)."""
    if _INTERNAL.get() and not always:
        return {}
    frame = user_frame()
    return {"file": frame.f_code.co_filename, "line": frame.f_lineno} if frame is not None else {}


def made_by_us(depth: int = 2) -> bool:
    """Whether the innermost frame outside torch, `depth` frames up, is traindoctor's own: a loss head on
    tape replayed, a hook of ours — a call no line of the user's made there."""
    frame = sys._getframe(depth)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(TORCH_DIR) and "<frozen" not in path:
            return path.startswith(PKG_DIR)
        frame = frame.f_back
    return False


def _by_mode(m: nn.Module) -> bool:
    """Whether a dropout / batch-norm layer computes differently in training mode: dropout that drops (p > 0),
    batch norm with running statistics (without them, eval mode normalizes by the batch as well). Read at each
    call: a schedule may change p."""
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return m.running_mean is not None
    return m.p > 0


@dataclass
class RootInfo:
    """A module called at the top of the module stack: a model, as the script sees it."""

    module: nn.Module
    mode_modules: list[tuple[str, nn.Module]]
    grad_calls: int = 0
    nograd_calls: int = 0
    eval_in_train: int = 0  # no-grad calls with dropout / batch norm in training mode
    eval_in_train_modules: list[str] = field(default_factory=list)
    nograd_train: NoGradCalls = field(default_factory=NoGradCalls)  # what those calls were for
    train_in_eval: int = 0
    train_location: dict[str, Any] = field(default_factory=dict)
    last_call: tuple[tuple, dict] | None = None  # the latest training batch: (args, kwargs)
    last_target: Any = None  # the target the loss received after that call (a reference), when it was a tensor
    thread: int | None = None  # the thread of the latest training call
    calls_since_backward: int = 0  # training calls since the latest backward(): more than one share a loss
    norm_batches: NormBatches | None = None  # what its batch-norm layers normalized over (None: it has none)
    held_at: set[tuple[str, str]] = field(default_factory=set)  # (module, attribute) where it kept grad-carrying state
    state_left: dict[tuple[str, str], frozenset[int]] = field(default_factory=dict)  # there, after its latest call
    state_renewed: set[tuple[str, str]] = field(default_factory=set)  # places the script set afresh before a call ...
    state_kept: set[tuple[str, str]] = field(default_factory=set)  # ... or did not (measure/carried.py renewed)
    fed_back: FedBack = field(default_factory=FedBack)  # its outputs fed back detached within a step

    @property
    def renewed_state(self) -> frozenset[tuple[str, str]]:
        """The places of held state the script sets afresh before each call, for the batch it passes."""
        return frozenset(self.state_renewed - self.state_kept)


@dataclass
class OptState:
    opt: torch.optim.Optimizer
    index: int
    steps: int = 0
    backward_since_step: int = 0
    clean_since_step: bool = True
    probes: list[torch.Tensor] = field(default_factory=list)
    carried_over_steps: int = 0
    misplaced_steps: int = 0
    erased_steps: int = 0  # steps where parameters a backward() reached had their gradients erased before it
    erased_params: list[torch.Tensor] = field(default_factory=list)  # an example of them (the latest step's)
    erased_location: dict[str, Any] = field(default_factory=dict)  # the zero_grad() that erased them
    ever_grad: set[int] = field(default_factory=set)
    ever_trainable: set[int] = field(default_factory=set)  # requires_grad at some sampled step
    first_values: dict[int, torch.Tensor] = field(default_factory=dict)  # per parameter id: a sample before step 1
    # Per trainable parameter id, before step 1: dim -> the first slice, along dimensions whose slices were all
    # equal (measure/alike.py); and what the script's globals call those parameters.
    alike: dict[int, dict[int, torch.Tensor]] = field(default_factory=dict)
    alike_names: dict[int, str] = field(default_factory=dict)
    thread: int | None = None  # the thread stepping it: only that thread reads its gradients
    sampler: UpdateSampler = field(default_factory=UpdateSampler)
    snapshot: list[torch.Tensor] | None = None  # the sampler's sample before this step's update
    ready: bool = False
    entry: StepRecord | None = None  # this step's record, until the step ends
    stepped_at: int = -1  # the run's step count (n_steps) at its latest step
    versions: dict[int, int] = field(default_factory=dict)  # per parameter id: its in-place version as a step began
    changed_at: dict[int, int] = field(default_factory=dict)  # per parameter id: the latest step that changed it
    # Sampled backward passes this optimizer stepped on whose loss ran through weights another optimizer steps
    # on other losses (a critic scoring an actor, a discriminator scoring a generator: a yardstick that moves),
    # and those whose loss did not.
    judged_by_other: int = 0
    judged_own: int = 0

    def params(self) -> list[torch.Tensor]:
        return parameters(self.opt)

    def moved_by_hand(self) -> set[int]:
        """The ids of parameters it holds that never had a gradient at a sampled step, yet whose values changed
        since its first step: the script updates them itself (an EMA teacher, a copied target network) — the
        optimizer skips a parameter without a gradient."""
        with torch.no_grad():
            return {id(p) for p in self.params() if id(p) not in self.ever_grad and id(p) in self.first_values
                    and not torch.equal(picked(p), self.first_values[id(p)])}


class _Lane(threading.local):
    """The step in progress, as one thread sees it."""

    def __init__(self) -> None:
        self.depth = 0
        self.outer: nn.Module | None = None  # the outermost module being called (a model, or a loss module)
        self.paused = 0
        self.seq = 0
        self.backward_seq = 0
        self.zero_grad_seq = 0
        self.step_seq = 0
        self.erased: set[int] = set()  # parameters whose gradients a zero_grad() erased before a step read them
        self.pending_losses: list[float] = []
        self.loss_terms: int | None = None
        self.loss_averaged: int | None = None
        self.preclip = PreClip()
        self.last_batch: tuple[nn.Module, tuple, dict] | None = None
        self.last_loss_call: dict[str, Any] | None = None
        # A regression target a model may have made in this step (a bootstrap, a teacher's values), kept until
        # the step: its scale moves with that model (measure/losses.py: target_scale).
        self.made_target: tuple[str, torch.Tensor] | None = None
        self.tape = TapeRecorder()
        self.provenance = Provenance()  # a trained model's no-grad outputs, followed to the loss or not
        self.followed: int | None = None  # id of the model whose no-grad outputs are followed
        self.follow_wanted: Any = None  # (RootInfo, call site) of a no-grad pass whose outputs are to be followed
        # (parameters a sampled backward reached, the optimizers stepped since): whose weights judge its loss
        self.reached: tuple[set[int], list[OptState]] | None = None


def _handler(method):
    """One handler at a time; a failure of ours stops the recording instead of the script."""
    @functools.wraps(method)
    def guarded(self: "Recorder", *args: Any) -> Any:
        with self.lock:
            try:
                return method(self, *args)
            except StopRun:
                raise
            except Exception as exc:
                self.failure = self.failure or f"{method.__name__}: {type(exc).__name__}: {exc}"
    return guarded


def _classes(name: str, args: tuple, kwargs: dict) -> int | None:
    """How many classes a classification loss call scores (its input's class dim); None for other losses."""
    inp = args[0] if args else kwargs.get("input")
    if name not in losses.CLASSIFICATION or not isinstance(inp, torch.Tensor) or inp.dim() == 0:
        return None
    return int(inp.shape[1] if inp.dim() >= 2 else inp.shape[0])


def _ignore_index(signature: inspect.Signature, args: tuple, kwargs: dict) -> Any:
    """The target value a loss function skips (cross_entropy's `ignore_index`), or None if it has none."""
    names = list(signature.parameters)
    if "ignore_index" not in names:
        return None
    at = names.index("ignore_index")
    return kwargs.get("ignore_index", args[at] if len(args) > at else signature.parameters["ignore_index"].default)


class Recorder:
    def __init__(self, max_steps: int = 300, max_seconds: float | None = None, source: str = "run"):
        self.source = source  # the producer named in findings built from this recording
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.started = time.monotonic()
        self.stop_reason: str | None = None
        self.exit_status: int | None = None  # os._exit(N) or sys.exit(N) of the script
        self.lane = _Lane()
        self.lock = threading.RLock()
        self.thread = threading.get_ident()  # the script's main thread
        self.interrupt: Any = None  # stops the main thread when another thread spends the budget
        self.forked = False
        self.failure: str | None = None  # a handler of ours raised: recording stopped there
        self.processes_started = 0
        self.transform_calls = 0  # model calls inside torch.func transforms (not recorded)
        self.n_steps = 0
        self.created: list[weakref.ref] = []  # the optimizers the script created
        self.role_steps: dict[int, int] = {}  # steps per optimizer role (judged by its first parameter)
        self.roots: dict[int, RootInfo] = {}
        self.optimizers: dict[int, OptState] = {}
        self.records: list[StepRecord] = []
        self.loss_calls: dict[str, int] = {}
        self.regression_calls = 0  # calls of a regression loss ...
        self.made_targets = 0  # ... whose target a model called without gradients since the last backward may have made
        self.loss_signs: list[LossSigns] = []  # the loss functions a sampled backward() descends, with their signs
        self.loss_observations: list[LossObservation] = []  # what sampled loss calls received (measure/losses.py)
        self.first_loss: FirstLoss | None = None
        self.input_scale: list[InputScale] = []
        self.batches = BatchColumns()  # the inputs and targets fed, profiled for the data's column rules
        self.printed = Printed()  # what the script printed to stdout, for its own measures of success
        self.view_scrambles: list[dict[str, Any]] = []  # reordering view/reshape calls outside the models (measure/views.py)
        # sigmoid/tanh called by the script before its first step, per line (measure/squashes.py): {name, file, line,
        # calls, pinned, numel, into_loss}; pinned counts stay on the device until read
        self.squashes: dict[tuple[str, int], dict[str, Any]] = {}
        self._squash_outputs: dict[int, tuple[str, int]] = {}  # data pointers of those results -> their line
        self.actions = Actions()  # the actions a policy drew, and those its loss trains (measure/actions.py)
        self._nograd_since_backward = False  # a model ran without gradients since the last backward()
        self.model_outputs: dict[int, list[weakref.ref]] = {}  # per model id (two models or more): its latest outputs
        self.tapes: dict[int, list[Tape]] = {}  # per model id: the latest loss heads on tape, for experiments
        # per model id: the first and the latest measurements of loss terms that are not all on tape (Tape.live_sample)
        self.live_terms: dict[int, list[dict[str, Any]]] = {}
        self.initial_states: dict[int, dict[str, torch.Tensor] | None] = {}  # per model id: before its first update
        self.initial_steps: dict[int, int] = {}  # per model id: the step its initial state trained in
        self.norm_sampler = Sampler()  # watches batch-norm layers in sampled training calls (measure/norm_batches.py)
        self.descent = DescentCheck()  # the direction of updates written by hand (no torch.optim optimizer)
        self.twins = Twins()  # models run only without gradients that copy another: do they follow it?
        self.returns = Returns()  # the rewards a policy-gradient loss's weights are built from (measure/returns.py)
        self.bootstrap = Bootstrap()  # what of a loss target came from a model's no-grad output (TD targets)
        self.adversaries = Adversaries()  # two models in a game: which way each one's loss pulls the other's scores
        self.nonfinite: StepRecord | None = None  # the first step whose loss or gradients were non-finite
        self.grad_not_in_opt: dict[int, str] = {}
        # Parameters whose gradient was not exactly zero at some recorded step: one an optimizer holds that
        # had a gradient, always zero, sits past a call with a zero derivative (a rounding) or is unused.
        self.nonzero_grad: set[int] = set()
        self.nograd_feeds = NoGradFeeds()
        self.grad_not_in_opt_values: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.loose_leaves: dict[int, leaves.Leaf] = {}  # tensors outside the models that backward() gave gradients to
        self.multiplied: set[int] = set()  # ids of tensors sampled backward passes multiplied as matrices (alike.py)
        self.schedulers: dict[int, dict[str, Any]] = {}
        self.loader_lens: dict[int, int] = {}
        self.backward_calls = 0
        self.erase_checks = 0  # zero_grad() calls that looked for gradients no step had read (ERASE_CHECKS)
        self.erase_location: dict[str, Any] = {}
        self.leaf_backward = 0  # backward() on a tensor with no graph behind it (a leaf made from a number)
        self.leaf_location: dict[str, Any] = {}
        # Of the backward passes whose graph is walked, those whose graph reaches none of the weights an optimizer
        # or a model holds: a loss computed from values rebuilt from numbers (`torch.tensor([.item(), ...])`).
        self.walked_backward = 0
        self.unreached_backward = 0
        self.unreached_location: dict[str, Any] = {}
        self.optimizer_created = False
        self.carried: dict[str, Any] | None = None  # a backward into an earlier step's graph (measure/carried.py)
        self._carry_checked = -1  # the latest step whose backward was walked for it
        self.hand_steps = 0  # backward() calls returned with no torch.optim optimizer: steps of updates by hand
        self.fingerprints = carried.Fingerprints()
        self._pending: list[tuple[list[torch.Tensor], list[torch.Tensor], StepRecord]] = []
        self._groupings = Groupings(self.models)
        _LIVE.add(self)

    # ── control ──────────────────────────────────────────────────────────────
    @property
    def active(self) -> bool:
        return self.lane.paused == 0 and not self.forked and self.failure is None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Handlers ignore everything this thread does inside (probes and replays run here)."""
        self.lane.paused += 1
        try:
            yield
        finally:
            self.lane.paused -= 1

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _check_budget(self) -> None:
        if self.stop_reason is None and self.max_seconds and self.elapsed() > self.max_seconds:
            self.stop_reason = "max-seconds"
        if self.stop_reason in STOPPING:
            if threading.get_ident() != self.thread and self.interrupt is not None:
                self.interrupt()  # this thread stops here; the main thread may be waiting on it
            raise StopRun(self.stop_reason)

    def _own(self, st: OptState | RootInfo) -> bool:
        return st.thread == threading.get_ident()

    def models(self) -> list[nn.Module]:
        """The models the script trained or evaluated, in order of first call."""
        return [info.module for info in self.roots.values()]

    # ── module calls ─────────────────────────────────────────────────────────
    @_handler
    def on_root_call(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if isinstance(module, nn.modules.loss._Loss):
            return
        if _in_transform():
            self.transform_calls += 1
            return
        if self.lane.tape.model == id(module):
            self.lane.tape.abandon()  # called again before a backward: that head had no loss
        self.lane.provenance.settle()
        info = self.roots.get(id(module))
        if info is None:
            if next(module.parameters(), None) is None:
                return
            info = RootInfo(module, [(n, m) for n, m in module.named_modules() if isinstance(m, _MODE_TYPES)])
            if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for _, m in info.mode_modules):
                info.norm_batches = NormBatches()
            self.roots[id(module)] = info
        self.actions.model_called(module, args, kwargs)
        self._check_budget()
        if self._watch_game():
            with torch._C.DisableTorchFunction():  # a loss head on tape (measure/tape.py) must not see these reads
                self.adversaries.called(module, args, kwargs)
        if torch.is_grad_enabled():
            info.grad_calls += 1
            info.calls_since_backward += 1
            for place, fresh in carried.renewed(module, info.state_left).items():
                (info.state_renewed if fresh else info.state_kept).add(place)
            self.lane.last_batch = (module, args, kwargs)
            if self.nograd_feeds.made:
                self.nograd_feeds.consumed(module, args, kwargs)
            info.last_call = (args, kwargs)
            info.thread = threading.get_ident()
            info.fed_back.called((args, kwargs), user_location)
            acting = [m for _, m in info.mode_modules if _by_mode(m)]
            if acting and not any(m.training for m in acting):
                info.train_in_eval += 1
                info.train_location = info.train_location or user_location()
            # Inputs another trained model computed (they carry a graph: a decoder fed an encoder's output) are
            # read at the first call only: after an update their scale is the training's, not the data's.
            if info.grad_calls == 1 or (info.grad_calls <= 3 and not _computed(args, kwargs)):
                self._input_scale(module, args, kwargs)
            if info.norm_batches is not None and self.norm_sampler.arm(module, info.grad_calls, args, kwargs):
                info.norm_batches.location = info.norm_batches.location or user_location()
            if self.batches.wants("inputs", type(module).__name__):
                others = [ref for g, refs in self.model_outputs.items() if g != id(module) for ref in refs]
                self.batches.add_inputs(type(module).__name__, module, args, kwargs, others)
        else:
            info.nograd_calls += 1
            self._nograd_since_backward = True
            training = [n for n, m in info.mode_modules if m.training and _by_mode(m)]
            if info.grad_calls == 0 and self._own_thread():
                self.twins.called(module, args, kwargs, self.n_steps, self.roots, self.initial_states, user_location)
            if training:
                info.eval_in_train += 1
                info.eval_in_train_modules = info.eval_in_train_modules or training
                outside = info.nograd_train.called(any(i.calls_since_backward for i in self.roots.values()),
                                                   user_location)
                self.lane.follow_wanted = self._to_follow(info, outside)

    def _to_follow(self, info: RootInfo, location: dict[str, Any] | None) -> tuple[RootInfo, Any] | None:
        """Follow this pass's outputs to the loss? Not where a tape records this step (it would stack above):
        the tape is due at the model's next training call, or one is recording or being left."""
        site, lane, nxt = info.nograd_train.to_follow(location), self.lane, info.grad_calls + 1
        if site is None or nxt <= 2 or nxt % _TAPE_EVERY == 0 or lane.tape.active is not None or lane.tape.closing:
            return None
        return (info, site) if lane.followed in (None, id(info.module)) else None

    # The layers where data first meets weights (an Embedding takes indices, not data).
    _WEIGHTED = (nn.Linear, nn.Bilinear, nn.modules.conv._ConvNd, nn.RNNBase, nn.MultiheadAttention)

    def _input_scale(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """The scale of the floating tensors entering the model, then of what its first weighted layer
        receives (a model may cast or normalize its input first): a global pre-hook, armed here, waits for
        that layer's call and removes itself at the first call it decides on (judge/numerics.py judges)."""
        measured: list[tuple[torch.Tensor, int]] = []
        for name, t in batch_tensors(args, kwargs):
            if not t.is_floating_point() or t.dim() < 2 or t.shape[0] < 2:
                continue
            measured.append((t, len(self.input_scale)))
            self.input_scale.append(self._scales(name, t, 1 if t.dim() == 4 else -1))  # images are (N, C, H, W)
        if hasattr(module, "_orig_mod") or not any(isinstance(m, self._WEIGHTED) for m in module.modules()):
            return  # torch.compile'd (a hook would be traced into its graph), or no layer to wait for
        state = {"root": module, "names": {id(m): n for n, m in module.named_modules()}, "measured": measured,
                 "started": False}
        thread = threading.get_ident()

        def hook(m: nn.Module, inputs: tuple) -> None:
            if threading.get_ident() == thread and self._first_layer_input(state, m, inputs) is not False:
                handle.remove()

        handle = nn.modules.module.register_module_forward_pre_hook(hook)

    @_handler
    def _first_layer_input(self, state: dict[str, Any], module: nn.Module, inputs: tuple) -> bool:
        """One module call while the model's first weighted layer (Linear, convolution, RNN, attention) is awaited:
        False to keep waiting. What that layer receives replaces the model's input in `input_scale` when it
        is that input, or derived from the only one (same size: cast, scaled, normalized)."""
        if "record" in state and "layer_output" not in state:
            return False  # a call inside the first weighted layer (attention's projection)
        if "layer_output" in state:  # the call after the first weighted layer's: does it normalize that output?
            record = self.input_scale[state["record"]]
            if isinstance(module, _NORMS) and inputs and inputs[0] is state["layer_output"]:
                record["normalized_by"] = state["names"].get(id(module)) or type(module).__name__
            return True
        if module is state["root"]:
            if state["started"]:
                return True  # the model is called again: its previous call ran no weighted layer
            state["started"] = True
        elif id(module) not in state["names"]:
            return True  # a module outside the model (a loss): the model's call is over
        if not self.active or isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
            return True  # an embedding first: the layer receives learned vectors, not data
        if not isinstance(module, self._WEIGHTED):
            return False
        t = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
        conv = isinstance(module, nn.modules.conv._ConvNd)
        if (t is None or not t.is_floating_point() or t.dim() < (len(module.kernel_size) + 2 if conv else 2)
                or t.shape[0] < 2):  # unbatched, or a single sample
            return True
        layer = state["names"][id(module)] or type(module).__name__
        measured = state["measured"]
        kept = ([i for x, i in measured if x is t]
                or [i for x, i in measured if len(measured) == 1 and x.numel() == t.numel()])
        name = self.input_scale[kept[0]]["tensor"] if kept else f"input of {layer}"
        record = self._scales(name, t, 1 if conv else -1)
        record["layer"] = layer
        if kept:
            self.input_scale[kept[0]] = record
        else:
            self.input_scale.append(record)
        state["record"] = kept[0] if kept else len(self.input_scale) - 1

        def output(_m: nn.Module, _args: tuple, out: Any) -> None:
            state["layer_output"] = out
            once.remove()

        once = module.register_forward_hook(output)
        return False

    @staticmethod
    def _scales(name: str, t: torch.Tensor, feature_dim: int) -> InputScale:
        mean, std = feature_scale(t, feature_dim)
        scale = torch.maximum(mean.abs(), std)
        order = scale.argsort(descending=True)[:_SCALE_COLUMNS].tolist()  # the largest columns, largest first
        return InputScale(tensor=name, shape=list(t.shape), feature_dim=feature_dim % t.dim(),
                          n_features=int(scale.numel()), columns=order, scale=[float(scale[i]) for i in order],
                          mean=[float(mean[i]) for i in order], std=[float(std[i]) for i in order])

    def _watch_game(self) -> bool:
        return len(self.roots) > 1 and not self.adversaries.done and threading.get_ident() == self.thread

    @_handler
    def on_model_output(self, module: nn.Module, output: Any) -> None:
        """Any model call returned: a watched call's batch-norm layers are kept; does it score another model's
        output (two models or more)? Its outputs are no data for the next model they enter (a generator's
        samples for a discriminator)."""
        info = self.roots.get(id(module))
        if info is not None and info.norm_batches is not None:
            self.norm_sampler.collect(module, info.norm_batches)
        wanted, self.lane.follow_wanted = self.lane.follow_wanted, None
        if info is not None and wanted is not None and wanted[0] is info:
            self.lane.followed = id(module)
            self.lane.provenance.follow(output, wanted[1])
        flat = carried.flat_output(output)
        self.actions.model_returned(module, [t for _, t in flat])
        if id(module) in self.roots and torch.is_grad_enabled():
            self.batches.add_outputs(type(module).__name__, [t for _, t in flat])
        self.model_outputs[id(module)] = [weakref.ref(t) for _, t in flat
                                          if isinstance(t, torch.Tensor) and t.is_floating_point()]
        if id(module) in self.roots and torch.is_grad_enabled() and not _in_transform():
            with torch._C.DisableTorchFunction():
                info.fed_back.returned([t for _, t in flat])
            step = self.carry_step
            carried.stamp(module, flat, step)
            full = info.grad_calls <= carried.FULL_SCANS or carried.sampled(step)
            kept, places = carried.held(module, None if full else info.held_at)
            info.held_at |= places
            carried.stamp(module, kept, step, kept=True)
            info.state_left = carried.storages(module, info.held_at)
        if self._watch_game() and not _in_transform():
            with torch._C.DisableTorchFunction():  # as in on_root_call
                self.adversaries.returned(module, output)

    @_handler
    def on_nograd_output(self, module: nn.Module, output: Any) -> Any:
        """A model's output under no_grad, on the main thread: returned as is, or as a probe of what the loss
        target takes from it (measure/bootstrap.py); None when a handler failed (the caller keeps its own)."""
        info = self.roots.get(id(module))
        if info is not None and not info.grad_calls and info.nograd_calls <= WATCHED_CALLS and self._optimized(module):
            self.nograd_feeds.produced(module, output, user_location())
        # A dual tensor meets whatever the script does with the output, and a call forward AD has no formula for
        # (cdist, a double backward) raises in the script: only the outputs of a target network are probed — a
        # copy of a trained model, never trained itself, held by no optimizer, whose outputs served losses
        # before — never an evaluation's, a GAN's samples' or a frozen encoder's.
        watch = self.twins.watches.get(id(module))
        if (info is None or info.grad_calls or watch is None or watch.twin is None or not watch.served
                or _in_transform() or not self._own_thread() or not self.bootstrap.due(self.n_steps)
                or self._optimized(module)):  # read only on a probed step: it walks every optimizer's params
            return output
        return self.bootstrap.arm(module, output, self.n_steps)

    def _optimized(self, module: nn.Module) -> bool:
        """Whether an optimizer created so far holds one of the module's parameters."""
        held = {id(p) for ref in self.created if (opt := ref()) is not None for p in parameters(opt)}
        return any(id(p) in held for p in module.parameters())

    def _own_thread(self) -> bool:
        return threading.get_ident() == self.thread

    def views_wanted(self) -> bool:
        """Whether a view/reshape call now is the script's own, outside the models (their forward is probed)."""
        return self.active and not self.lane.depth and not _INTERNAL.get()

    @_handler
    def on_view_scramble(self, call: dict[str, Any]) -> None:
        """A view/reshape of the script's reordered its input's dimensions: kept once per line, a few lines."""
        if len(self.view_scrambles) < _VIEW_SCRAMBLES and not any(
                (c["file"], c["line"]) == (call["file"], call["line"]) for c in self.view_scrambles):
            self.view_scrambles.append({**call, "step": self.n_steps})

    def squashes_wanted(self) -> bool:
        """Whether a sigmoid/tanh call now runs at the weights training started from: before the first step."""
        return self.active and self.n_steps == 0 and torch.is_grad_enabled() and not _INTERNAL.get()

    @_handler
    def on_squash(self, name: str, out: torch.Tensor, file: str, line: int) -> None:
        site = self.squashes.setdefault((file, line), {"name": name, "file": file, "line": line, "calls": 0,
                                                       "pinned": 0, "numel": 0, "into_loss": False})
        site["calls"] += 1
        site["pinned"] = site["pinned"] + squashes.pinned(name, out)
        site["numel"] += out.numel()
        self._squash_outputs[out.data_ptr()] = (file, line)

    # ── a policy's actions (measure/actions.py) ─────────────────────────────────
    def actions_wanted(self) -> bool:
        return self.active and not _INTERNAL.get() and not _in_transform() and not torch.compiler.is_compiling()

    def _here(self) -> dict[str, Any]:
        return {**user_location(), "step": self.n_steps}

    @_handler
    def on_drawn(self, dist: Any, value: torch.Tensor) -> None:
        rows = actions.rows_of(dist, value)
        with torch._C.DisableTorchFunction():  # a loss head on tape (measure/tape.py) must not see these reads
            self.returns.drew(value)
            if rows is not None:
                self.actions.drew(value, *rows[:2], lambda: actions.parameter(dist), dist, rows[2])

    @_handler
    def on_sampled(self, value: torch.Tensor, rows: int, unbatched: bool, made: torch.Tensor) -> None:
        with torch._C.DisableTorchFunction():
            self.returns.drew(value)
            self.actions.drew(value, rows, unbatched, lambda: made, made)

    @_handler
    def on_evaluated(self, dist: Any, value: torch.Tensor, out: torch.Tensor) -> None:
        self.returns.stamp(out)
        rows = actions.rows_of(dist, value)
        if rows is not None:
            with torch._C.DisableTorchFunction():
                how = f"{type(dist).__name__}.log_prob" + (" at its own mean" if value.requires_grad else "")
                self.actions.evaluated(value, *rows[:2], lambda: actions.parameter(dist), how, self._here, rows[2])

    @_handler
    def on_gathered(self, made: torch.Tensor, index: torch.Tensor, out: torch.Tensor,
                    how: str = "gather of log-probabilities") -> None:
        """Log-probabilities (…, A) read at one action per position of the leading dims: each position a state."""
        self.returns.stamp(out)
        lead = tuple(made.shape[:-1])
        with torch._C.DisableTorchFunction():
            self.actions.evaluated(index, math.prod(lead), False, lambda: made, how, self._here, lead)

    def tape_due(self, module: nn.Module) -> bool:
        """Whether this training call's loss head goes on tape (checked outside the lock: every call asks)."""
        info = self.roots.get(id(module))
        return (info is not None and (info.grad_calls <= 2 or info.grad_calls % _TAPE_EVERY == 0)
                and torch.is_grad_enabled())

    @_handler
    def on_root_return(self, module: nn.Module, output: Any) -> None:
        """A sampled training call returned: its loss head goes on tape (measure/tape.py)."""
        info = self.roots.get(id(module))
        if info is None or _in_transform() or not self._own(info) or info.last_call is None:
            return
        if info.grad_calls == 1 and id(module) not in self.initial_states:
            self.initial_states[id(module)] = initial_state(module)
            self.initial_steps[id(module)] = self.n_steps
        # Called before in this loss: the earlier calls' outputs are constants on this tape (partial).
        self.lane.tape.start(module, output, *info.last_call, self.n_steps, partial=info.calls_since_backward > 1)

    # ── loss functions ───────────────────────────────────────────────────────
    @_handler
    def on_loss_call(self, name: str, signature: inspect.Signature, args: tuple, kwargs: dict, out: Any) -> None:
        if _in_transform():
            return
        n = self.loss_calls[name] = self.loss_calls.get(name, 0) + 1
        fed = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if fed is not None and self.n_steps == 0 and (site := self._squash_outputs.get(fed.data_ptr())) in self.squashes:
            self.squashes[site]["into_loss"] = True  # a probability the loss reads: near its bounds it is confident
        target = args[1] if len(args) > 1 else kwargs.get("target")
        self.bootstrap.loss_target(target, user_location)
        self.lane.last_loss_call = {"name": name, "target": target}
        # A target made by a model (a target network's bootstrap, a teacher's labels) is no data: any model
        # called without gradients since the last backward may have made it.
        if not self._nograd_since_backward and self.batches.wants("targets", name):
            self.batches.add_target(name, target, _ignore_index(signature, args, kwargs), _classes(name, args, kwargs))
        elif self._nograd_since_backward and name in losses.REGRESSION and isinstance(target, torch.Tensor):
            self.lane.made_target = (name, target.detach())
            self.made_targets += 1
        if name in losses.REGRESSION:
            self.regression_calls += 1
            self.returns.regressed(fed, target, self.n_steps, user_location)
        if isinstance(target, torch.Tensor) and self.lane.last_batch is not None:  # the target of the model's last batch
            info = self.roots.get(id(self.lane.last_batch[0]))
            if info is not None and self._own(info):
                info.last_target = target
        if n > 3 and n % 50:
            return
        try:
            bound = signature.bind(*args, **kwargs).arguments
        except TypeError:
            return
        location = user_location()
        seen = losses.observe_call(name, bound, self.lane.last_batch)
        if seen is not None:
            self.loss_observations.append({**seen, "step": self.n_steps, "location": location})
        # A loss called inside a model's forward compares the model with itself (a VQ-VAE's codebook and
        # commitment terms, a reconstruction of its own features): its target is no data, its chance level
        # says nothing of the task.
        in_model = self.lane.outer is not None and id(self.lane.outer) in self.roots
        if self.first_loss is None and isinstance(out, torch.Tensor) and out.dim() == 0 and not in_model:
            chance = losses.chance_level(name, bound)
            if chance:
                self.first_loss = {"loss": name, "value": float(out.detach()), "step": self.n_steps,
                                   "location": location, **chance}

    # ── autograd ─────────────────────────────────────────────────────────────
    @_handler
    def on_backward(self, tensors: Any) -> None:
        self._nograd_since_backward = False
        self.actions.settle()  # whether a distribution's first draw was trained is known by its loss's backward
        with torch._C.DisableTorchFunction():
            self.actions.backward(tensors if isinstance(tensors, torch.Tensor) else None, self._here)
        self.bootstrap.backward(tensors if isinstance(tensors, torch.Tensor) else None)
        with torch._C.DisableTorchFunction():  # a loss head on tape (measure/tape.py) must not see these reads
            self.returns.backward(tensors if isinstance(tensors, torch.Tensor) else None, self.n_steps, user_location)
        self.twins.backward(self.roots)
        lane = self.lane
        fed, followed, lane.followed = lane.provenance.verdict(), lane.followed, None
        loss = tensors if isinstance(tensors, torch.Tensor) else (tensors[0] if tensors else None)
        for key, info in self.roots.items():
            info.nograd_train.backward(trained=info.calls_since_backward > 0, fed=fed if key == followed else None)
            info.calls_since_backward = 0
            with torch._C.DisableTorchFunction():
                info.fed_back.backward(loss if isinstance(loss, torch.Tensor) else None)
        if isinstance(loss, torch.Tensor) and self.lane.tape.active is not None:
            tape = self.lane.tape.finish(loss)
            if tape is not None:
                kept = self.tapes.setdefault(self.lane.tape.model, [])
                kept.append(tape)
                del kept[:-_TAPES_KEPT]
                if tape.live_sample is not None:
                    samples = self.live_terms.setdefault(self.lane.tape.model, [])
                    samples.append(tape.live_sample)
                    del samples[LIVE_KEPT:-LIVE_KEPT]
        if isinstance(loss, torch.Tensor) and loss.grad_fn is None and loss.requires_grad:
            self.leaf_backward += 1  # a graph of one node: nothing the model computed is behind this loss
            self.leaf_location = self.leaf_location or user_location()
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0 or loss.grad_fn is None:
            return
        if not self.optimizer_created:
            self.descent.before_backward()
        if self._watch_game():
            self.adversaries.backward(loss, self.n_steps, user_location)
        self.backward_calls += 1
        if not self.optimizer_created and self.max_steps and self.backward_calls >= self.max_steps:
            self.stop_reason = self.stop_reason or "max-steps"  # hand-written updates: count backward passes
        lane = self.lane
        lane.seq += 1
        lane.backward_seq = lane.seq
        for st in self.optimizers.values():
            if self._own(st):
                st.backward_since_step += 1
                if not st.clean_since_step and _all_zero(st.probes):
                    st.clean_since_step = True
        # Sampled again after a first sighting with no error: a later step shows how far back the graph grows.
        step = self.carry_step
        if self._carry_checked != step and carried.sampled(step) and "error" not in (self.carried or {}):
            self._carry_checked = step
            self.carried = self._carried_state([loss])[0] or self.carried
        self.fingerprints.take(step, list({id(p): p for m in self.models() for p in m.parameters()}.values()))
        value = loss.item()
        lane.pending_losses.append(value)
        lane.loss_terms = losses.summed_terms(loss)
        lane.loss_averaged = losses.averaged_terms(loss)
        self._judged()
        if self.backward_calls <= _JUDGED_FIRST or self.backward_calls % _JUDGED_EVERY == 0:
            lane.reached = ({id(t) for t in leaves.gradient_leaves(loss)}, [])
            held = {id(p) for st in self.optimizers.values() for p in st.params()}
            held |= {id(p) for m in self.models() for p in m.parameters()}
            if held:
                self.walked_backward += 1
                if not lane.reached[0] & held:
                    self.unreached_backward += 1
                    self.unreached_location = self.unreached_location or user_location()
        if self.backward_calls <= 3 or self.backward_calls % 50 == 0:  # sampled, as the loss calls are
            signs = losses.loss_signs(loss)
            if signs:
                self.loss_signs.append(LossSigns(step=self.n_steps, signs=signs, location=user_location()))
            for seen in losses.hand_written(loss, self.lane.last_batch):  # losses written or reduced by hand
                self.loss_observations.append({**seen, "step": self.n_steps, "location": user_location()})
            known = {id(p) for info in self.roots.values() for p in info.module.parameters()}
            leaves.remember(self.loose_leaves, loss, known)
            # Walked only for weights that started as copies (known from the first step on), until seen multiplied.
            if any(pid not in self.multiplied for st in self.optimizers.values() for pid in st.alike):
                self.multiplied |= alike.multiplied(loss)
        if not math.isfinite(value) and self.nonfinite is None:
            self.flush()  # non-finite gradients of an earlier recorded step come first
            if self.nonfinite is None:
                self.nonfinite = self._nonfinite_params() or self._nonfinite_loss(value)

    def _judged(self) -> None:
        """The optimizers that stepped on the last sampled backward: was its loss measured by weights another
        optimizer steps on other losses? (Read when the next backward comes, once every step on it was taken.)"""
        reached, self.lane.reached = self.lane.reached or (None, []), None
        params, stepped = reached
        if not stepped:
            return
        mine = {id(p) for st in stepped for p in st.params()}
        others = any(st not in stepped and any(id(p) in params and id(p) not in mine for p in st.params())
                     for st in self.optimizers.values() if st.steps)
        for st in stepped:
            if others:
                st.judged_by_other += 1
            else:
                st.judged_own += 1

    @_handler
    def on_backward_failed(self, tensors: Any, exc: RuntimeError) -> None:
        """backward() raised: when autograd says the graph was freed or a saved tensor modified, is it an earlier
        step's graph? (The script's exception goes on unchanged.)"""
        if not any(text in str(exc) for text in carried.AUTOGRAD_ERRORS):
            return
        tensors = [tensors] if isinstance(tensors, torch.Tensor) else [t for t in tensors if isinstance(t, torch.Tensor)]
        record, reached = self._carried_state(tensors)
        if record is not None:
            carried.explain(record, reached, exc)
            self.carried = record

    @property
    def carry_step(self) -> int:
        """The step under way, as state carried across steps counts them (measure/carried.py)."""
        return self.n_steps if self.optimizer_created else self.hand_steps

    def _carried_state(self, tensors: list[torch.Tensor]) -> tuple[dict[str, Any] | None, dict[str, torch.Tensor]]:
        found = carried.find(tensors, self.carry_step, self._stepped_since)
        if found is None:
            return None, {}
        found[0]["location"] = user_location()
        if not self.optimizer_created:
            found[0]["by_hand"] = True
        return found

    def _stepped_since(self, step: int) -> dict[int, str]:
        """The parameters, by id, changed since `step` began, with their names: by an optimizer's step (its
        in-place version moved; one optimizer over two models steps only those given gradients: the other's
        graph stays valid), or by any write their values show."""
        params = {id(p): p for st in self.optimizers.values() if st.stepped_at >= step for p in st.params()
                  if st.changed_at.get(id(p), -1) >= step}
        params.update(self.fingerprints.changed_since(step, self.carry_step))
        return dict(zip(params, parameter_names(list(params.values()), self.models())))

    @_handler
    def on_backward_done(self, tensors: Any) -> None:
        """A backward() returned: with updates written by hand, the gradients it left are sampled; the step ends."""
        self.hand_steps += 1
        n = self.backward_calls
        if self.optimizer_created or not n or (n > _RECORD_WARMUP and n % 10) or self.lane.last_batch is None:
            return
        module = self.lane.last_batch[0]
        info = self.roots.get(id(module))
        if info is not None and self._own(info):
            self.descent.after_backward([p for p in module.parameters() if p.requires_grad])

    def _nonfinite_params(self) -> StepRecord | None:
        """Parameters an earlier update made non-finite: their gradients were, at an unrecorded step."""
        params = [p for st in self.optimizers.values() if self._own(st) for p in st.params()]
        if not params:
            return None
        (norms,), _ = read_steps([list(torch._foreach_norm([p.detach() for p in params]))], [])
        names = self._groupings.of(params).nonfinite(norms)
        if not names:
            return None
        previous = [r["loss"] for r in self.records if r["loss"] is not None]
        record: StepRecord = {"step": max(self.n_steps - 1, 0), "loss": previous[-1] if previous else None,
                              "seen_as": "non-finite parameters after an update"}
        locate(record, grads=names)
        return record

    def _nonfinite_loss(self, value: float) -> StepRecord:
        """The step whose loss is non-finite: the batch entering the model, else the loss target, else
        the batch replayed on a copy."""
        record: StepRecord = {"step": self.n_steps, "loss": value, "location": user_location()}
        lane = self.lane
        tensors = list(batch_tensors(*lane.last_batch[1:])) if lane.last_batch is not None else []
        inputs = nonfinite_inputs(tensors)
        target = (lane.last_loss_call or {}).get("target")
        if not inputs and isinstance(target, torch.Tensor):
            inputs = nonfinite_inputs([("target", target)])
        locate(record, inputs=inputs, inputs_checked=len(tensors) if tensors else None,
               replayed=self._replay if lane.last_batch is not None else "no training batch entered a model")
        return record

    def _replay(self) -> dict[str, Any]:
        """This thread's last training batch, replayed on a copy of its model."""
        lane = self.lane
        model = lane.last_batch[0]
        # The latest loss head recorded for this model: the loss is rebuilt from the replayed output.
        tape = (self.tapes.get(id(model)) or [None])[-1]
        with self.paused():
            out = replay(*lane.last_batch, tape=tape)
        if lane.last_loss_call:
            out["loss_function"] = lane.last_loss_call["name"]
        return out

    def _replay_gradients(self, record: StepRecord) -> None:
        """Non-finite gradients of a finite loss, at a step whose weights are known — a model's first, from its
        initial state — replayed forward and backward through the loss head on tape of that step."""
        for key, step in self.initial_steps.items():
            tape = next((t for t in self.tapes.get(key, []) if t.step == record["step"]), None)
            state = self.initial_states.get(key)
            if step == record["step"] and tape is not None and state is not None and key in self.roots:
                with self.paused():
                    record["replay"] = first_nonfinite_gradient(self.roots[key].module, state, tape)
                return

    @_handler
    def on_clip(self, total: torch.Tensor) -> None:
        self.lane.preclip.see(total)

    @_handler
    def on_zero_grad(self, owner: Any) -> None:
        lane = self.lane
        lane.tape.settle()
        lane.provenance.settle()
        if lane.backward_seq > lane.step_seq and self.erase_checks < ERASE_CHECKS:
            self._erasing(owner)
        lane.seq += 1
        lane.zero_grad_seq = lane.seq

    def _erasing(self, owner: Any) -> None:
        """A zero_grad() after a backward() that no step has followed: the parameters whose non-zero gradients
        it is about to erase. Healthy loops step between the two, so this runs only where gradients are
        thrown away (and at most ERASE_CHECKS times). A game's players are left out after a loss that crossed
        between them: one optimizer stepping both keeps each player to its own loss by erasing the other's."""
        params = parameters(owner) if isinstance(owner, torch.optim.Optimizer) else list(owner.parameters())
        crossed = {id(p) for m in self.adversaries.crossed() if m in self.roots
                   for p in self.roots[m].module.parameters()}
        live = [p for p in params if p.grad is not None and id(p) not in crossed]
        if not live:
            return
        self.erase_checks += 1
        (norms,), _ = read_steps([list(torch._foreach_norm([p.grad.detach() for p in live]))], [])
        erased = {id(p) for p, n in zip(live, norms) if n > 0}
        if erased - self.lane.erased:
            self.lane.erased |= erased
            self.erase_location = user_location()

    # ── optimizer steps ──────────────────────────────────────────────────────
    def _state(self, opt: torch.optim.Optimizer) -> OptState:
        st = self.optimizers.get(id(opt))
        if st is None:
            st = self.optimizers[id(opt)] = OptState(opt, len(self.optimizers))
        return st

    @_handler
    def on_optimizer_created(self, opt: torch.optim.Optimizer) -> None:
        self.optimizer_created = True
        self.created.append(weakref.ref(opt))

    @_handler
    def on_step_begin(self, opt: torch.optim.Optimizer) -> None:
        self.lane.tape.abandon()
        self.lane.provenance.stop()  # no backward came: what was followed was an evaluation
        self.lane.followed = None
        self.bootstrap.close()
        self._check_budget()
        self.twins.step()
        for info in self.roots.values():
            info.nograd_train.step()
        st = self._state(opt)
        st.ready = False
        st.thread = threading.get_ident()
        if self.lane.reached is not None and st not in self.lane.reached[1]:
            self.lane.reached[1].append(st)
        st.versions = {id(p): p._version for p in st.params()}  # what the step changes, read at its end
        if self._watch_game():
            self.adversaries.stepped(opt, lambda: {k: {id(p) for p in i.module.parameters()} for k, i in self.roots.items()})

    @_handler
    def on_grads_ready(self, opt: torch.optim.Optimizer) -> None:
        """Gradients are final for this step (before step(), or after its closure ran).

        Every step updates the bookkeeping counters; only recorded steps (all of the first
        _RECORD_WARMUP, then every _RECORD_EVERY-th) measure gradients. Their per-parameter
        norms stay as tensors until `flush` reads a batch of steps with one host transfer.
        """
        st = self._state(opt)
        if st.ready:  # closures that run several times (LBFGS): measure the first
            return
        st.ready = True
        if st.steps > 0 and st.backward_since_step > 0 and not st.clean_since_step:
            st.carried_over_steps += 1
        lane = self.lane
        if st.backward_since_step > 0 and lane.zero_grad_seq > lane.backward_seq:  # zero_grad after backward
            if _all_zero(st.params()):
                st.misplaced_steps += 1
                return
        if lane.erased:
            self._lost(st)
        if st.steps >= _RECORD_WARMUP and st.steps % _RECORD_EVERY:
            return
        params = st.params()
        with_grad, norms = grad_norms(params)
        if st.steps < 5 or st.steps % 50 == 0:
            if not st.first_values:
                st.first_values = {id(p): picked(p).clone() for p in params}
                st.alike = {id(p): dims for p in params if p.requires_grad and (dims := alike.equal_slices(p))}
                st.alike_names = alike.script_names(p for p in params if id(p) in st.alike) if st.alike else {}
            st.ever_grad.update(id(p) for p in with_grad)
            st.ever_trainable.update(id(p) for p in params if p.requires_grad)
            self._grads_outside_optimizers()
        if st.steps < 10 or st.steps % 20 == 0:
            st.snapshot = st.sampler.before(params)
        entry: StepRecord = {
            "step": self.n_steps, "optimizer": st.index, "optimizer_step": st.steps,
            "loss": lane.pending_losses[-1] if lane.pending_losses else None,
            "grad_norm": None, "grad_norm_by_module": {},
            "lr": learning_rates(opt), "update_ratio": None,
            "grad_norm_before_clip": lane.preclip.take(),
        }
        if lane.pending_losses and lane.loss_terms not in (None, 1):
            entry["loss_terms"] = lane.loss_terms  # the loss is a sum of this many terms
        if lane.pending_losses and lane.loss_averaged not in (None, 1):
            entry["loss_averaged"] = lane.loss_averaged  # the loss is a mean of this many terms
        entry["target_scale"] = losses.target_scale(*lane.made_target) if lane.made_target and lane.pending_losses else None
        st.entry = entry
        self._pending.append((with_grad, norms, entry))
        if with_grad:
            stride = max(1, len(with_grad) // _PROBES_PER_OPTIMIZER)
            st.probes = with_grad[::stride][:_PROBES_PER_OPTIMIZER]

    def _lost(self, st: OptState) -> None:
        """Parameters of this step whose gradient a zero_grad() erased and no later backward() gave back: the
        backward that reached them trains nothing there."""
        lost = [p for p in st.params() if id(p) in self.lane.erased and (p.grad is None or not bool(p.grad.any()))]
        if lost:
            st.erased_steps += 1
            st.erased_params, st.erased_location = lost, self.erase_location

    def flush(self) -> None:
        """Turn the pending steps' gradient norms into records, with one host transfer."""
        with self.lock:
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        later = [{k: e[k] for k in _ON_DEVICE} for *_, e in pending]
        norms, later = read_steps([n for _, n, _ in pending], later)
        for (with_grad, _, entry), per_param, values in zip(pending, norms, later):
            entry.update(values)
            if entry["update_ratio"] is not None and not math.isfinite(entry["update_ratio"]):
                entry["update_ratio"] = None  # weights of norm 0: no ratio
            if entry["target_scale"] is None or not entry["target_scale"] > 0 or not math.isfinite(entry["target_scale"]):
                entry["target_scale"] = None  # no model-made target, or one of no scale
            grouping = self._groupings.of(with_grad)
            self.nonzero_grad.update(id(p) for p, n in zip(with_grad, per_param) if n != 0)
            entry["grad_norm"] = total(per_param)
            entry["grad_norm_by_module"] = grouping.by_module(per_param)
            if not math.isfinite(entry["grad_norm"]) and self.nonfinite is None:
                self.nonfinite = {"step": entry["step"], "loss": entry["loss"], "grad_norm": entry["grad_norm"]}
                locate(self.nonfinite, grads=grouping.nonfinite(per_param))
                if entry["loss"] is not None and math.isfinite(entry["loss"]):
                    self._replay_gradients(self.nonfinite)
            if len(self.records) < _MAX_RECORDS or entry["step"] % 10 == 0:
                self.records.append(entry)

    def _grads_outside_optimizers(self) -> None:
        for info in self.roots.values():
            if info.grad_calls and self._own(info):
                for n, p in info.module.named_parameters():
                    if p.grad is not None and id(p) not in self.grad_not_in_opt:
                        self.grad_not_in_opt[id(p)] = n
                        # Its values now: a parameter updated by other means (float32 master weights copied
                        # back) moves, one nothing updates does not (judge/loop.py).
                        self.grad_not_in_opt_values[id(p)] = (p, picked(p).clone())

    @_handler
    def on_step_end(self, opt: torch.optim.Optimizer) -> None:
        st = self._state(opt)
        if st.snapshot is not None:
            if st.entry is not None:  # this step's real update, measured across step(); read at the flush
                st.entry["update_ratio"] = st.sampler.ratio(st.snapshot)
                if not any(e is st.entry for *_, e in self._pending):  # flushed already (a closure's loss turned)
                    ratio, = to_host([st.entry["update_ratio"]])
                    st.entry["update_ratio"] = ratio if math.isfinite(ratio) else None
            st.snapshot = None
        st.entry = None
        self.adversaries.step_ended()
        st.stepped_at = self.n_steps
        for p in st.params():  # which weights this step changed: a parameter without a gradient keeps its version
            if st.versions.get(id(p), p._version) != p._version:
                st.changed_at[id(p)] = self.n_steps
        st.steps += 1
        st.backward_since_step = 0
        st.clean_since_step = not st.probes
        self.lane.step_seq = self.lane.seq
        self.lane.erased = set()
        self.lane.pending_losses.clear()
        self.lane.made_target = None
        self.lane.preclip.take()  # a clip after the gradients were measured belongs to no step
        self.n_steps += 1
        if len(self._pending) >= _FLUSH_EVERY:
            self.flush()
        # A role is the parameters stepped, not the optimizer object: one re-created every epoch counts on.
        params = st.params()
        role = id(params[0]) if params else id(opt)
        self.role_steps[role] = self.role_steps.get(role, 0) + 1
        if self.max_steps and self.stop_reason is None and (
                self.role_steps[role] >= self.max_steps or self.n_steps >= _ALL_OPTIMIZERS_BUDGETS * self.max_steps):
            self.stop_reason = "max-steps"
        self._check_budget()

    # ── schedules and data ───────────────────────────────────────────────────
    @_handler
    def on_scheduler_step(self, sched: Any) -> None:
        entry = self.schedulers.setdefault(id(sched), {"class": type(sched).__name__, "steps": 0, "first_at": self.n_steps})
        entry["steps"] += 1
        entry["last_at"] = self.n_steps

    @_handler
    def on_loader_iter(self, loader: Any) -> None:
        try:
            self.loader_lens[id(loader)] = len(loader)
        except TypeError:  # iterable-style datasets have no length
            pass

    @_handler
    def on_process_start(self, process: Any) -> None:
        self.processes_started += 1  # training there is invisible to this process


def _computed(args: tuple, kwargs: dict) -> bool:
    """Whether a floating input of a model call carries a graph: another trained model computed it."""
    return any(t.is_floating_point() and t.requires_grad for _, t in batch_tensors(args, kwargs))


def _all_zero(tensors: list[torch.Tensor]) -> bool:
    """Were these parameters' gradients reset? (None, or zero as zero_grad(set_to_none=False) leaves them)"""
    return not any(bool(p.grad.any()) for p in tensors if p.grad is not None)
