"""Two models in a game: which way each player's loss pulls the other model's score of generated samples.

Roles are found from what runs, never from names. A model (the generator, G) whose output tensor (of any of
its calls since the last optimizer step) enters another model's call (the discriminator, D) directly or
detached (same storage) makes that call's output a *score of generated samples*, if it is one value per
sample (a real/fake logit, or one per patch): a vector output (an embedding compared by cosine or MSE, a
reconstruction) is no verdict on its input, and the mean of its gradient has no sign to read. At sampled
backward() calls, the gradient of the loss with respect to those scores is summed: its sign says whether
this loss wants D to score generated samples higher or lower. The optimizer that steps next names whose
loss it was: D's (it holds D's parameters and none of G's) or G's. A discriminator's loss also scores other
inputs (real data): it learns to tell the two apart, which a head trained on an encoder's features does
not. An input built from another model's output (its storage, or its autograd graph reaching that output:
`D(z1 - z2)`) is no real data. In a game the two losses pull opposite ways
(judge/adversaries.py decides).

An optimizer that holds both players' parameters is no player's: what its step applies is measured instead.
A loss that reaches D's score of samples still attached to G's graph sends G a gradient through D; the
gradient it sends D's parameters through those same scores is taken too. If the step (or the steps of
several optimizers on the same loss) then finds non-zero gradients in both players' parameters, one
objective moved both: the step is `Shared`. Optimizers that hold D and none of G, finding it in D's, applied
it to D `alone`: D's own loss on fakes left attached, or G's (the judge reads which way it pushed); the
terms that push D's score of other inputs one way on every element give the way D's own loss pulls real data.

A loss that is a sum of terms (`loss_d + loss_g`, `critic_loss + actor_loss`) is read term by term: each term's
pull, whether that term reaches D's score of other inputs, and whether its pull has one sign on every sample
(it asks D's score of G's samples to rise, or fall, everywhere: an objective G maximises through D — the
generator's, an actor's -Q — not a fit of D to targets). Summed, two players' pulls on one score cancel into
one number; apart, they show both objectives.

The gradient is taken with `torch.autograd.grad(..., retain_graph=True)` on the user's graph before their
backward() runs: it reads the graph between the loss and the scores, accumulates into no `.grad`, consumes
no random numbers and leaves the graph as it was for the script's own backward().
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from .leaves import nodes
from .steps import to_host

# Backward calls with a score of generated samples in reach that are measured: the first _FIRST, then every
# _EVERY-th, counted apart for scores of samples still attached to the generator's graph (its step, usually)
# and of detached ones (the discriminator's), so that a critic stepped 5 times per generator step leaves
# both sides measured; at most _MAX in all (each costs one backward through the loss head and a host read).
_FIRST = 12
_EVERY = 25
_MAX = 48
_KEPT_SCORES = 8  # scores of generated samples held between a model call and the next optimizer step
_MAX_TERMS = 8  # additive terms of one loss read apart (more: the loss is read whole)
_KEPT_OUTPUTS = 32  # output tensors of a model's calls since the last optimizer step followed (while alive)
_MODEL = "traindoctor.model"  # the key, in an output's autograd node metadata, of the model (id) that returned it
_STEP = "traindoctor.step"  # and of the count of optimizer steps before that call
# A model's latest output is held (detached: its storage, not its graph) up to this size, so that a copy
# detached from it (`G(z).detach()`) is still recognised after the output itself is dropped; larger ones
# are followed only while the script holds them.
_HELD_BYTES = 16 * 2**20


@dataclass
class Pull:
    """One measured backward(): which way its loss pushes D's scores of G's samples."""
    step: int
    role: str  # "discriminator", "generator", or "both": what the optimizer that stepped on this loss holds
    pull: float  # d(loss)/d(score), averaged over the scores' elements
    pair: tuple[int, int]  # (D id, G id)
    with_data: bool  # the same loss also reached D's score of other inputs (real data): D learns to tell them apart
    location: dict[str, Any] = field(default_factory=dict)
    share: float = 1.0  # of the score's elements, those the gradient pulls the way of its mean: a player's
    # objective pulls all of G's samples one way; a fit to per-sample labels pulls some up and some down


@dataclass
class Shared:
    """One measured backward() whose gradient the step (of one optimizer, or of several on that backward) applied
    to both players' parameters."""
    step: int
    pair: tuple[int, int]  # (D id, G id)
    optimizer: str
    pulls: list[float]  # its terms' pulls on D's scores of G's samples (both signs: two players' losses summed)
    with_data: bool  # it also reached D's score of other inputs: D's objective is in it
    pushes: bool  # one of its terms pushes D's score of G's attached samples one way on every sample and reaches no
    # other input of D: an objective G maximises through D (the generator's loss, an actor's -Q)
    moved: dict[str, int]  # per player: how many of its parameter tensors the step found a non-zero gradient in
    location: dict[str, Any] = field(default_factory=dict)


class _Pull(NamedTuple):
    d: int
    g: int
    pull: float  # d(term)/d(score), averaged over the score's elements
    attached: bool  # the samples still carry G's graph
    share: float  # of the score's elements, those its gradient pulls the way of the mean
    pushes: bool  # the term's gradient on the score has one sign on every element and it reaches no other input of D


@dataclass
class _Loss:
    """One measured backward(), until the next step names whose it was."""
    step: int
    pulls: list[_Pull]  # per term of the loss and score of G's samples
    with_data: set[int]  # the Ds whose score of other inputs it also reached
    moved: set[int]  # ids of D's parameters it gave a non-zero gradient through its scores of attached samples
    location: dict[str, Any]
    applied: bool = False  # found applied to both players
    alone: Shared | None = None  # found applied to D by optimizers holding none of G's parameters


class Adversaries:
    """Fed by the Recorder (main thread only); `pulls` and `pairs` are read by the judge."""

    def __init__(self) -> None:
        self.outputs: dict[int, list[Callable[[], torch.Tensor | None]]] = {}  # per model id: its latest outputs
        # (held: G's sample may be scored after D's step), and those of its calls since the last step
        self.since_step: dict[int, list[weakref.ref]] = {}
        self.scores: list[tuple[int, int, torch.Tensor, bool]] = []  # (D id, G id, D's output, attached) since the
        # last step; attached: the samples still carry G's graph, so a loss reaching that score trains G
        self.discriminators: dict[int, nn.Module] = {}  # per D id: the model
        self.others: list[tuple[int, torch.Tensor]] = []  # (D id, D's output on inputs not from G) since then
        self.awaiting: tuple[int, int, bool] | None = None  # (D id, G id, attached) of the call under way
        self.fed = False  # the call under way reads an input built from another model's output
        self.reached = {False: 0, True: 0}  # backward calls with such scores in reach, by `attached`
        self.pending: list[_Loss] = []  # measured since the last step
        self.taken: tuple[str, list[Pull]] | None = None  # what the last step took, until the next backward
        self.stepped_on: tuple[list[_Loss], list[torch.optim.Optimizer]] | None = None  # and the optimizers since
        self.one_sided: dict[tuple[int, int], int] = {}  # per pair: losses crossing it that moved one player only
        self.pulls: list[Pull] = []
        self.pairs: set[tuple[int, int]] = set()  # (D id, G id) seen
        self.shared: list[Shared] = []
        self.alone: list[Shared] = []  # steps that applied such a loss's gradient to D by optimizers holding none of G
        self.data_signs: dict[int, list[int]] = {}  # per D: the signs of terms that pull its score of other inputs
        # one way on every element (its own objective on real data: the way it wants real data scored)
        self.scoring: set[int] = set()  # Ds a loss trained to score other inputs (real data) too: discriminators
        self.data_checks = 0  # losses that reached no score of G's samples, looked at for D's score of other inputs
        self.roles: dict[tuple[int, int, int], str | None] = {}  # (optimizer, D, G) -> role
        self.steps = 0  # optimizer steps ended

    @property
    def done(self) -> bool:
        return len(self.pulls) >= _MAX

    def called(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        """A model call with gradients enabled: does it read an output of another model's calls since the last
        step (its storage, or its graph)? Else: is any input built from another model's output?"""
        self.awaiting, self.fed = None, False
        if not self.outputs:
            return
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]
        storages = {t.untyped_storage().data_ptr(): t.requires_grad for t in inputs}
        for g, refs in self.outputs.items():
            if g == id(module):
                continue
            for ref in [*refs, *self.since_step.get(g, [])]:
                out = ref()  # alive: its storage cannot have been reused by another tensor
                ptr = out.untyped_storage().data_ptr() if out is not None else None
                if ptr in storages:
                    self.awaiting = (id(module), g, storages[ptr])
                    return
        # An input built from the output of another model's call since the last step, still attached to its graph
        # (`critic(torch.cat([s, actor(s)], 1))`): that model's samples reach this one through a new tensor.
        reached = _built_by(inputs, id(module))
        now = [g for g, step in reached if step == self.steps]
        if now:
            self.awaiting = (id(module), now[0], True)
            return
        self.fed = bool(reached)

    def returned(self, module: nn.Module, output: Any) -> None:
        leaves = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]
        self.outputs[id(module)] = [_holder(t) for t in leaves]
        since = self.since_step.setdefault(id(module), [])
        since += [weakref.ref(t) for t in leaves]
        del since[:-_KEPT_OUTPUTS]
        for t in leaves:
            if t.grad_fn is not None and _MODEL not in t.grad_fn.metadata:
                t.grad_fn.metadata.update({_MODEL: id(module), _STEP: self.steps})
        scores = [t for t in leaves if t.requires_grad and t.grad_fn is not None and _per_sample(t)]
        if self.awaiting is None or self.awaiting[0] != id(module):
            if any(d == id(module) for d, _ in self.pairs) and not self.fed:
                self.others += [(id(module), t) for t in scores]
                del self.others[:-_KEPT_SCORES]
            self.fed = False
            return
        d, g, attached = self.awaiting
        self.awaiting = None
        if not scores:
            return
        self.pairs.add((d, g))
        self.discriminators[d] = module
        self.scores += [(d, g, t, attached) for t in scores]
        del self.scores[:-_KEPT_SCORES]

    def crossed(self) -> set[int]:
        """The players (model ids) of the games whose D, trained on other data too, scored samples still
        attached to G since the last step: a loss since may have left each one the other's gradients."""
        return {m for d, g, _, a in self.scores if a and d in self.scoring for m in (d, g)}

    @property
    def attached(self) -> bool:
        """One of the scores since the last step is of samples still attached to G's graph."""
        return any(a for *_, a in self.scores)

    def backward(self, loss: torch.Tensor, step: int, location: Callable[[], dict[str, Any]]) -> None:
        """Before the script's backward(): the loss's pull on the scores it reaches, at sampled calls."""
        self._settle()
        self.taken = None
        if not self.scores:
            self._scores_data(loss)
        if not self.scores or self.done:
            return
        count = self.reached[self.attached] = self.reached[self.attached] + 1
        if count > _FIRST and count % _EVERY:
            return
        tensors = [t for _, _, t, _ in self.scores] + [t for _, t in self.others]
        n = len(self.scores)
        try:
            with torch._C.DisableTorchFunction():  # a loss head on tape (measure/tape.py) must not see these calls
                grads = torch.autograd.grad(loss, tensors, retain_graph=True, allow_unused=True)
                terms = _terms(loss)
                pulls, own = _pulls(self.scores, self.others,
                                    [grads] if len(terms) < 2 else _by_term(loss, terms, tensors))
                moved = self._through(list(zip(self.scores, grads[:n])))
        except RuntimeError:  # a graph already freed, an op with no derivative: the script's backward decides
            return
        with_data = {d for (d, _), gr in zip(self.others, grads[n:]) if gr is not None}
        self.scoring |= with_data
        for d, sign in own:
            self.data_signs.setdefault(d, []).append(sign)
        if pulls:
            self.pending.append(_Loss(step, pulls, with_data, moved, location()))

    def _through(self, scored: list[tuple[tuple[int, int, torch.Tensor, bool], torch.Tensor | None]]) -> set[int]:
        """D's parameters (ids) that the loss's gradient on D's scores of attached samples reaches non-zero: the
        objective that trains G through D, applied to D. Not asked once the pair is seen stepped apart."""
        live = [(t, gr, self.discriminators[d]) for (d, g, t, a), gr in scored
                if a and gr is not None and self.one_sided.get((d, g), 0) < _FIRST]
        params = list({id(p): p for _, _, m in live for p in m.parameters() if p.requires_grad}.values())
        if not params:
            return set()
        grads = torch.autograd.grad([t for t, _, _ in live], params, [gr for _, gr, _ in live], retain_graph=True,
                                    allow_unused=True)
        reached = [(p, gr) for p, gr in zip(params, grads) if gr is not None]
        return {id(p) for (p, _), on in zip(reached, _nonzero([gr for _, gr in reached])) if on}

    def _scores_data(self, loss: torch.Tensor) -> None:
        """A loss that reaches no score of G's samples (a discriminator's loss split into one backward on real
        data and one on fakes): does it train D on other inputs? Asked of the first few such losses only."""
        todo = [(d, t) for d, t in self.others if d not in self.scoring]
        if not todo or self.data_checks >= _FIRST:
            return
        self.data_checks += 1
        try:
            with torch._C.DisableTorchFunction():  # as in backward()
                grads = torch.autograd.grad(loss, [t for _, t in todo], retain_graph=True, allow_unused=True)
        except RuntimeError:
            return
        self.scoring |= {d for (d, _), gr in zip(todo, grads) if gr is not None}

    def stepped(self, opt: torch.optim.Optimizer, params: Callable[[], dict[int, set[int]]]) -> None:
        """An optimizer steps: the losses measured since the last step were its. `params`: each model's
        parameter ids, asked for once per optimizer and pair. A second optimizer of the other role stepping on
        the same losses (one loss trains both models) makes them no player's: their role becomes "both"."""
        if self.stepped_on is not None and not self.pending:
            losses, opts = self.stepped_on
            opts.append(opt)
            for loss in losses:
                self._applied(opts, loss, params)
            role = self._role(opt, *self.taken[1][0].pair, params) if self.taken is not None else None
            if role is not None and role != self.taken[0]:
                for p in self.taken[1]:
                    p.role = "both"
            return
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        taken: list[Pull] = []
        for loss in pending:
            for p in loss.pulls:
                role = self._role(opt, p.d, p.g, params)
                if role is not None:
                    taken.append(Pull(loss.step, role, p.pull, (p.d, p.g), p.d in loss.with_data, loss.location,
                                      p.share))
            self._applied([opt], loss, params)
        self.pulls += taken
        self.taken = (taken[0].role, taken) if taken else None
        self.stepped_on = (pending, [opt])

    def _applied(self, opts: list[torch.optim.Optimizer], loss: _Loss,
                 params: Callable[[], dict[int, set[int]]]) -> None:
        """These optimizers, the last now stepping, stepped on this loss: did they apply its gradient to both
        players, or to D by optimizers that hold none of G's parameters? G's parameters took it through D's score
        of attached samples, and so did D's `moved`; a gradient zeroed (or a player frozen) before the step is not
        applied."""
        if loss.applied or not loss.moved:
            return
        held = [p for o in opts for group in o.param_groups for p in group["params"]]
        owned = params()
        for d, g in {(p.d, p.g) for p in loss.pulls if p.attached}:
            mine = {"discriminator": [p for p in held if id(p) in owned.get(d, set()) and id(p) in loss.moved],
                    "generator": [p for p in held if id(p) in owned.get(g, set())]}
            if not mine["discriminator"]:
                continue
            moved = {who: sum(_nonzero([p.grad for p in ps if p.grad is not None])) for who, ps in mine.items()}
            if not moved["discriminator"] or mine["generator"] and not moved["generator"]:
                continue
            pair = [p for p in loss.pulls if (p.d, p.g) == (d, g)]
            shared = Shared(loss.step, (d, g), " + ".join(type(o).__name__ for o in opts), [p.pull for p in pair],
                            d in loss.with_data, any(p.pushes for p in pair), moved, loss.location)
            if mine["generator"]:
                loss.applied = True
                self.shared.append(shared)
            else:  # D alone, unless an optimizer of G's steps on it too (_settle): its own loss, or G's
                loss.alone = shared

    def _settle(self) -> None:
        """A backward(): the losses the last steps took are done with. Those that crossed a pair and moved one
        player only count toward seeing the pair stepped apart (then D's gradient is no longer taken)."""
        for loss in self.stepped_on[0] if self.stepped_on is not None else []:
            if loss.moved and not loss.applied:
                for pair in {(p.d, p.g) for p in loss.pulls if p.attached}:
                    self.one_sided[pair] = self.one_sided.get(pair, 0) + 1
                if loss.alone is not None:
                    self.alone.append(loss.alone)
        self.stepped_on = None

    def step_ended(self) -> None:
        self.steps += 1
        self.scores.clear()
        self.others.clear()
        self.since_step.clear()

    def _role(self, opt: torch.optim.Optimizer, d: int, g: int,
              params: Callable[[], dict[int, set[int]]]) -> str | None:
        key = (id(opt), d, g)
        if key not in self.roles:
            held = {id(p) for group in opt.param_groups for p in group["params"]}
            owned = params()
            has_d, has_g = bool(held & owned.get(d, set())), bool(held & owned.get(g, set()))
            self.roles[key] = {(True, False): "discriminator", (False, True): "generator",
                               (True, True): "both"}.get((has_d, has_g))
        return self.roles[key]


def _terms(loss: torch.Tensor) -> list[Any]:
    """The autograd nodes of the loss's additive terms: sums and differences, and scalings of one term, are looked
    through (`(loss_real + loss_fake) / 2 + loss_g` has three)."""
    out, stack = [], [loss.grad_fn] if loss.grad_fn is not None else []
    while stack and len(out) < _MAX_TERMS:
        node = stack.pop()
        parts = [fn for fn, _ in node.next_functions if fn is not None]
        name = type(node).__name__
        if name in ("AddBackward0", "SubBackward0") and len(parts) == 2 or \
                name in ("MulBackward0", "DivBackward0", "NegBackward0") and len(parts) == 1:
            stack += parts
        elif all(node is not o for o in out):
            out.append(node)
    return out if not stack else []


def _by_term(loss: torch.Tensor, terms: list[Any], tensors: list[torch.Tensor]) -> list[tuple]:
    """Per term: its gradient on the tensors. The other terms' gradients are stopped at their nodes by hooks,
    removed before the script's backward()."""
    out = []
    for term in terms:
        def stop(grad_outputs: tuple) -> tuple:
            return tuple(None if gr is None else torch.zeros_like(gr) for gr in grad_outputs)
        hooks = [other.register_prehook(stop) for other in terms if other is not term]
        try:
            out.append(torch.autograd.grad(loss, tensors, retain_graph=True, allow_unused=True))
        finally:
            for h in hooks:
                h.remove()
    return out


def _pulls(scores: list[tuple[int, int, torch.Tensor, bool]], others: list[tuple[int, torch.Tensor]],
           terms: list[tuple]) -> tuple[list[_Pull], set[tuple[int, int]]]:
    """Each term's pull on each score of G's samples it reaches (one host read for all). A term pushes when its
    gradient there has one sign on every element, it reaches no other input of D, and no term of the loss pushes
    D's score of other inputs the opposite way: that is D's own loss (real data up, its fakes down), not G's."""
    n = len(scores)
    found = [(k, i, gr) for k, grads in enumerate(terms) for i, gr in enumerate(grads) if gr is not None]
    if not found:
        return [], set()
    stats = to_host([torch.stack([gr.double().mean(), (gr > 0).sum().double(), (gr < 0).sum().double()])
                     for _, _, gr in found])
    # a term stopped by the hooks leaves zeros: it did not reach that tensor
    reached = [(k, i, mean, (mean > 0) - (mean < 0) if min(up, down) == 0 else 0,
                (up if mean > 0 else down) / (up + down))
               for (k, i, _), (mean, up, down) in zip(found, stats) if up + down]
    data = {(k, others[i - n][0]): sign for k, i, _, sign, _ in reached if i >= n}
    own = {(d, sign) for (_, d), sign in data.items() if sign}
    out = []
    for k, i, mean, sign, share in reached:
        if i < n:
            d, g, _, a = scores[i]
            out.append(_Pull(d, g, mean, a, share, bool(sign) and (k, d) not in data and (d, -sign) not in own))
    return out, own


def _nonzero(grads: list[torch.Tensor]) -> list[bool]:
    """Which of these gradients hold a non-zero value (one host read; a non-finite one counts)."""
    if not grads:
        return []
    dense = [g.detach().coalesce().values() if g.is_sparse else g.detach() for g in grads]
    return [n != 0 for n in to_host(list(torch._foreach_norm(dense)))]


def _per_sample(t: torch.Tensor) -> bool:
    """One value per sample (or per patch, position): a verdict on each input, not a vector of features."""
    return t.dim() <= 1 or t.shape[1] == 1


def _built_by(inputs: list[torch.Tensor], model: int) -> list[tuple[int, int]]:
    """(model id, step) of the outputs of other models' calls that the inputs' graphs reach (bounded walk)."""
    starts = [t.grad_fn for t in inputs if t.grad_fn is not None]
    return [(node.metadata[_MODEL], node.metadata.get(_STEP, -1))
            for node in nodes(*starts, below=lambda n: _MODEL not in n.metadata)
            if node.metadata.get(_MODEL, model) != model]


def _holder(t: torch.Tensor) -> Callable[[], torch.Tensor | None]:
    if t.numel() * t.element_size() <= _HELD_BYTES:
        alias = t.detach()
        return lambda: alias
    return weakref.ref(t)
