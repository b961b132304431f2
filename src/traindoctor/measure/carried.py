"""State carried from one optimizer step to the next with its autograd graph: a recurrent hidden state, a
running average of the loss, a memory of features, never detached. The next step's loss then backpropagates
into graph built before the optimizer changed the weights that graph was computed with. Without retain_graph
that second backward through it fails ("Trying to backward through the graph a second time"); with it, the
optimizer's in-place update of a weight the old graph saved fails ("modified by an inplace operation"); when
nothing saved was modified nothing fails, and the graph grows by one step every step.

A step is an optimizer's step; with no torch.optim optimizer, a backward() that returned (the script then updates
the weights by hand). Which parameters changed since a step began is read from their in-place versions, and, as an
optimizer writing `p.data` or a hand-written update moves no version, from their values too (`Fingerprints`).

How it is seen: each grad-carrying output of a model call, and each grad-carrying tensor the model keeps in its
modules' attributes or buffers after the call (a state held on `self`, never returned), is stamped, on its autograd
node, with the optimizer step during which it was built. A backward's graph is walked (bounded by nodes) when backward() raises one of
those two errors, and at the first backward of a few sampled steps. A node stamped with an earlier step whose
own graph reaches parameters an optimizer's step has changed since (their in-place version moved) is state carried across steps. A graph built
before another optimizer's step (a GAN's generator output, used by its loss after the discriminator stepped)
is no finding: its weights did not change. Judged in judge/carried.py.

Whether the script sets a held state afresh between calls (an `init_hidden(batch_size)` per batch) or keeps
it is seen here too (`renewed`): the odd-batch probe sets afresh for its samples only the former.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator, NamedTuple

import torch
from torch.utils._pytree import GetAttrKey, MappingKey, SequenceKey, keystr, tree_flatten, tree_flatten_with_path

from .leaves import nodes

STAMP = "traindoctor.built"  # the key of the stamp in a node's metadata
# The steps whose first backward is walked: the 2nd to 4th (two alternating optimizers each have one there), a few
# spaced further (state kept per stream, k streams in turn, is reused k steps later), and
# every _SAMPLE_EVERY-th.
_SAMPLED = (1, 2, 3, 8, 16, 32, 64)
_SAMPLE_EVERY = 100
_MAX_STALE = 4  # nodes of earlier steps whose own graph is walked, per check
_NAMED = 5  # parameters named in a record
AUTOGRAD_ERRORS = ("backward through the graph a second time", "modified by an inplace operation")
# "[torch.FloatTensor [24, 72]], which is output 0 of AsStrided, is at version 2; expected version 1"
_HELD_DEPTH, _HELD_ITEMS = 3, 16  # how deep and how wide a module attribute is searched for held tensors
# A model's every attribute is searched for held state on its first FULL_SCANS calls with gradients and on the
# sampled steps; in between only where state was found (a state is set from the first call that builds one).
FULL_SCANS = 3
_MODULE_KEYS = frozenset(vars(torch.nn.Module()))  # a module's own bookkeeping: parameters, buffers, hooks
_PRINTED = 256  # values read per parameter for a fingerprint, evenly strided
_PRINTS_KEPT = 4  # the latest fingerprints kept
_VERSION = re.compile(r"\[torch\.[\w.]+ \[([\d, ]*)\]\][^;\]]*? is at version (\d+); expected version (\d+)")


class Built(NamedTuple):
    step: int  # the optimizer step under way when the node was built
    model: str  # the model's class
    output: tuple  # where in the model's output: a pytree key path, () when unknown
    shape: tuple[int, ...]
    held: bool = False  # kept in an attribute of the model (`output` is its path from the model), not returned


def flat_output(output: Any) -> list[tuple[tuple, Any]]:
    """The leaves of a model's output with their key paths (() for a type registered without keys)."""
    try:
        return tree_flatten_with_path(output)[0]
    except ValueError:
        return [((), leaf) for leaf in tree_flatten(output)[0]]


def held(model: torch.nn.Module, places: set[tuple[str, str]] | None = None
         ) -> tuple[list[tuple[tuple, torch.Tensor]], set[tuple[str, str]]]:
    """The grad-carrying tensors the model's modules keep in their attributes (a recurrent state on `self`, in a
    tuple, list or dict, or a buffer), with their paths from the model; parameters and submodules are not.
    Bounded per attribute in depth and width: a state is a few tensors, not a table. Also returns the places
    (module name, attribute) where they were found; given `places`, only those are looked at (a full scan of a
    model's modules is tens of microseconds a call — see FULL_SCANS)."""
    found: list[tuple[tuple, torch.Tensor]] = []

    def scan(value: Any, path: tuple, depth: int) -> None:  # path: from the attribute; keys made when found
        if isinstance(value, torch.Tensor):
            if value.grad_fn is not None:
                found.append((path, value))
        elif depth < _HELD_DEPTH and isinstance(value, (tuple, list)) and len(value) <= _HELD_ITEMS:
            for i, v in enumerate(value):
                scan(v, (*path, SequenceKey(i)), depth + 1)
        elif depth < _HELD_DEPTH and isinstance(value, dict) and len(value) <= _HELD_ITEMS:
            for k, v in value.items():
                scan(v, (*path, MappingKey(k)), depth + 1)

    kept, where = [], set()
    for name, _, attr, value in attributes(model) if places is None else _at(model, places):
        if isinstance(value, (torch.Tensor, tuple, list, dict)):
            found.clear()
            scan(value, (), 0)
            if found:
                where.add((name, attr))
            kept += [((*(GetAttrKey(part) for part in name.split(".") if part), GetAttrKey(attr), *path), t)
                     for path, t in found]
    return kept, where


def storages(model: torch.nn.Module, places: set[tuple[str, str]]) -> dict[tuple[str, str], frozenset[int]]:
    """The storages (addresses) of the tensors the model holds at `places`, as a call leaves them: to tell at
    its next call whether the script has set them afresh in between (`renewed`). Addresses, not references,
    so that nothing here keeps a graph alive."""
    return {(name, attr): frozenset(t.untyped_storage().data_ptr() for t in _tensors(value, 0))
            for name, _, attr, value in _at(model, places)}


def renewed(model: torch.nn.Module, left: dict[tuple[str, str], frozenset[int]]) -> dict[tuple[str, str], bool]:
    """Per place where the previous call left state: whether it holds a fresh state now, set by the script
    between the calls (an `init_hidden(batch_size)` before each batch, or None): tensors without a graph that
    share no storage with what was left — not the same state kept, nor carried on detached. A fresh state is
    made while the old one is still held, so the two cannot share an address."""
    out = {}
    for name, _, attr, value in _at(model, set(left)):
        now = list(_tensors(value, 0))
        out[(name, attr)] = value is None or bool(now) and all(
            t.grad_fn is None and t.untyped_storage().data_ptr() not in left[(name, attr)] for t in now)
    return out


def _tensors(value: Any, depth: int) -> Iterator[torch.Tensor]:
    """The tensors in an attribute's value, within the bounds `held` searches."""
    if isinstance(value, torch.Tensor):
        yield value
    elif depth < _HELD_DEPTH and isinstance(value, (tuple, list)) and len(value) <= _HELD_ITEMS:
        for v in value:
            yield from _tensors(v, depth + 1)
    elif depth < _HELD_DEPTH and isinstance(value, dict) and len(value) <= _HELD_ITEMS:
        for v in value.values():
            yield from _tensors(v, depth + 1)


def _at(model: torch.nn.Module, places: set[tuple[str, str]]) -> Iterator[tuple[str, torch.nn.Module, str, Any]]:
    """`attributes` at the given places only."""
    for name, attr in sorted(places):
        module = model.get_submodule(name)
        yield name, module, attr, module._buffers[attr] if attr in module._buffers else vars(module).get(attr)


def attributes(model: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module, str, Any]]:
    """Each attribute a module of the model sets itself, and each of its buffers (a state may be registered as
    one), not its parameters, submodules or hooks: (the module's name, the module, the attribute's name, its
    value)."""
    for name, module in model.named_modules():
        own = vars(module)
        for attr in sorted(own.keys() - _MODULE_KEYS):  # sorted: the same order, whatever the hash seed
            yield name, module, attr, own[attr]
        for attr, value in module._buffers.items():
            if value is not None:
                yield name, module, attr, value


def stamp(model: torch.nn.Module, flat: list[tuple[tuple, Any]], step: int, kept: bool = False) -> None:
    """Stamp the autograd nodes of a model's output (`flat_output`) with the step and the model that built them.

    The stamp lives in `node.metadata` (a dict torch keeps on each node for annotations), not in a table of
    ours: autograd nodes cannot be weakly referenced, so a table keyed by node would either keep every graph
    alive or take a freed node's address for a new one; the metadata dies with its node. The first stamp
    stays: a node a model returns again unchanged was built when it was first returned. `kept`: the tensors are
    the ones the model holds (`held`), not its output."""
    for path, t in flat:
        if isinstance(t, torch.Tensor) and t.grad_fn is not None:
            t.grad_fn.metadata.setdefault(STAMP, Built(step, type(model).__name__, path, tuple(t.shape), kept))


def sampled(step: int) -> bool:
    """Whether the first backward of this optimizer step is walked without an error to prompt it."""
    return step in _SAMPLED or (step > 0 and step % _SAMPLE_EVERY == 0)


class Fingerprints:
    """A strided sample of each parameter's values, taken at the first backward of each step before a sampled one
    (where a stale node is looked for, it was most often built the step before): which parameters changed since a
    step began, whatever wrote them."""

    def __init__(self) -> None:
        self.taken: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}

    def take(self, step: int, params: list[torch.Tensor]) -> None:
        if step in self.taken or not sampled(step + 1):
            return
        with torch.no_grad():
            self.taken[step] = [(p, _printed(p).clone()) for p in params if p.layout == torch.strided]
        for old in sorted(self.taken)[:-_PRINTS_KEPT]:
            del self.taken[old]

    def changed_since(self, step: int, now: int) -> dict[int, torch.Tensor]:
        """The parameters (by id) whose values differ now from the first fingerprint taken from `step` on, before
        the step `now` under way; none when there is no such fingerprint."""
        after = [s for s in self.taken if step <= s < now]
        if not after:
            return {}
        with torch.no_grad():
            return {id(p): p for p, before in self.taken[min(after)] if not torch.equal(_printed(p), before)}


def _printed(p: torch.Tensor) -> torch.Tensor:
    flat = p.detach().reshape(-1)
    return flat[:: max(1, flat.numel() // _PRINTED)]


def _built(node: Any) -> Built | None:
    return node.metadata.get(STAMP)


def find(tensors: list[torch.Tensor], step: int,
         stepped_since: Callable[[int], dict[int, str]]) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
    """The earlier step's graph that backward(`tensors`) at optimizer step `step` runs into, or None.

    `stepped_since(s)` names the parameters (by id) that an optimizer's step has changed since step s began.
    A record (the model and its output reached, the step it was built at, the oldest step its graph reaches,
    the names of the stepped parameters it was computed with) and those parameters by name."""
    def earlier(node: Any) -> bool:
        built = _built(node)
        return built is not None and built.step < step

    starts = [t.grad_fn for t in tensors if t.grad_fn is not None]
    stale = [node for node in nodes(*starts, below=lambda n: not earlier(n)) if earlier(node)]
    first = min((_built(node).step for node in stale), default=step)  # the oldest step beside the graph walked
    for node in stale[:_MAX_STALE]:
        built = _built(node)
        names = stepped_since(built.step)
        oldest, leaves = first, {}
        for below in nodes(node):
            older = _built(below)
            oldest = min(oldest, older.step) if older is not None else oldest
            variable = getattr(below, "variable", None)
            if variable is not None:
                leaves[id(variable)] = variable
        reached = {name: leaves[i] for i, name in names.items() if i in leaves}  # in the optimizers' order
        if reached:
            return {"step": step, "built_step": built.step, "steps_back": step - built.step, "reaches_step": oldest,
                    "model": built.model, "output": keystr(built.output), "shape": list(built.shape),
                    "parameters": list(reached)[:_NAMED], "n_parameters": len(reached),
                    **({"held": True} if built.held else {})}, reached
    return None


def explain(record: dict[str, Any], reached: dict[str, torch.Tensor], exc: BaseException) -> None:
    """Add the autograd error backward() raised to `record`, and which stepped parameter is the saved tensor an
    in-place error names (its shape, or its transpose, and the version it is at now)."""
    message = str(exc)
    record["error"] = message.split(". ")[0].strip()  # its first sentence
    m = _VERSION.search(message)
    if m is None:
        return
    shape = [int(x) for x in m.group(1).replace(" ", "").split(",") if x]
    version, expected = int(m.group(2)), int(m.group(3))
    fits = {n: p for n, p in reached.items() if list(p.shape) in (shape, shape[::-1])}
    exact = [n for n, p in fits.items() if p._version == version] or list(fits)
    record["saved"] = {"shape": shape, "version": version, "expected_version": expected, "parameters": exact[:_NAMED]}
