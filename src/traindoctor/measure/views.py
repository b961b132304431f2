"""view()/reshape() calls in the script's own code whose result holds the input's dimensions in another order.

A view re-reads memory in its order: asked for (B, C, H, W) from a (B, H, W, C) image, or (B, T, F) from
a (T, B, F) sequence, it returns the right shape filled with the wrong elements (a permute was meant).
The model's forward is read by the view-permutation probe on a copy; this watch covers the rest of the
script — loading, the data pipeline, the training loop — where a layout is broken before the model sees it.
Only calls made directly by the user's files count: torch and installed libraries reshape by design.
numpy's reshape cannot be watched (its methods are C slots); what the script hands torch is read instead: an
array that re-reads, in another order, the dimensions of the array owning its memory was reshaped so.
Where even that is gone (copied since), the pixels tell: `roughness` of the images a convolution reads, against
the same values read as the channels-last memory a view would have taken them from.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
from typing import Any, Callable

import torch
import torch.utils._device

_TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Installed packages and the standard library: their reshapes are theirs, not the script's.
_LIBRARY_DIRS = tuple({os.path.abspath(p) for p in (sysconfig.get_paths().get(k) for k in ("purelib", "platlib", "stdlib"))
                       if p} | {_TORCH_DIR, _PKG_DIR})


def reordered(before: tuple[int, ...], after: tuple[int, ...]) -> bool:
    """Whether an axis reappears elsewhere in memory order: a size (> 1) both shapes hold, at a step between
    elements (the product of the sizes after it) where the other shape holds no axis of that size, on both
    sides. (B, H, W, C) -> (B, C, H, W) moves C, H and W; (B, C, H, W) -> (B*H*W, C) moves C from steps of H*W
    to steps of 1; (B, T*D) -> (T, B, D) moves the samples inside a row. Merging or splitting axes in place
    keeps every shared size at its step; a size-1 axis moves no element."""
    return bool(moved_axes(before, after))


def moved_axes(before: tuple[int, ...], after: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """(size, step before, step after) of each size `reordered` finds moved, largest first."""
    at_before, at_after = _steps(before), _steps(after)
    return [(s, max(at_before[s] - at_after[s]), max(at_after[s] - at_before[s]))
            for s in sorted(at_before.keys() & at_after.keys(), reverse=True)
            if at_before[s] - at_after[s] and at_after[s] - at_before[s]]


def _steps(shape: tuple[int, ...]) -> dict[int, set[int]]:
    """Per size > 1, the memory steps (row-major) of the axes of that size."""
    out: dict[int, set[int]] = {}
    step = 1
    for size in reversed(shape):
        if size > 1:
            out.setdefault(size, set()).add(step)
        step *= size
    return out


def users_file(path: str) -> bool:
    return "<frozen" not in path and not os.path.abspath(path).startswith(_LIBRARY_DIRS)


def numpy_reshaped(array: Any) -> tuple[int, ...] | None:
    """The shape of the numpy array owning `array`'s memory when `array` is a reshape of it (both C-ordered, the
    same elements from the same address) into its dimensions in another order; None otherwise (a transpose is
    strided, a copy owns its memory)."""
    base = getattr(array, "base", None)
    if type(array).__module__ != "numpy" or type(base).__module__ != "numpy" or not hasattr(base, "shape"):
        return None
    if not (array.flags.c_contiguous and base.flags.c_contiguous and array.size == base.size
            and array.__array_interface__["data"][0] == base.__array_interface__["data"][0]):
        return None
    return tuple(base.shape) if reordered(tuple(base.shape), tuple(array.shape)) else None


def watch_views(on_scramble: Callable[[dict[str, Any]], None], wanted: Callable[[], bool]) -> Callable[[], None]:
    """Patch Tensor.view, Tensor.reshape and torch.reshape so `on_scramble` receives each reordering call
    the user's code makes while `wanted()`, and torch.from_numpy, torch.as_tensor and torch.tensor for numpy
    arrays the user's code reshaped so; returns the undo."""
    _keep_device_contexts()
    targets = [(torch.Tensor, "view"), (torch.Tensor, "reshape"), (torch, "reshape"), (torch, "from_numpy"),
               (torch, "as_tensor"), (torch, "tensor")]

    def report(name: str, before: tuple[int, ...], after: tuple[int, ...]) -> None:
        frame = sys._getframe(2)
        if users_file(frame.f_code.co_filename) and wanted():
            on_scramble({"call": name, "from": list(before), "to": list(after),
                         "file": frame.f_code.co_filename, "line": frame.f_lineno})

    def wrap(original: Callable, name: str) -> Callable:
        @functools.wraps(original)
        def call(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            # shapes first: the frame is read only for the rare call that reorders
            if not args or torch.compiler.is_compiling():
                return out
            if isinstance(args[0], torch.Tensor):
                if isinstance(out, torch.Tensor) and reordered(tuple(args[0].shape), tuple(out.shape)):
                    report(name, tuple(args[0].shape), tuple(out.shape))
            elif (owner := numpy_reshaped(args[0])) is not None:
                report(f"a numpy reshape, handed to torch.{name}", owner, tuple(args[0].shape))
            return out
        return call

    return patch(targets, wrap)


def patch(targets: list[tuple[Any, str]], wrap: Callable[[Callable, str], Callable]) -> Callable[[], None]:
    """Replace each `owner.name` in `targets` by `wrap(current, name)`; returns the undo."""
    saved = [(owner, name, owner.__dict__.get(name), getattr(owner, name)) for owner, name in targets]
    for owner, name, _, current in saved:
        setattr(owner, name, wrap(current, name))

    def restore() -> None:
        for owner, name, own, _ in saved:
            if own is None:  # inherited (Tensor's methods live on its C base): drop the override
                delattr(owner, name)
            else:
                setattr(owner, name, own)
    return restore


def _keep_device_contexts() -> None:
    """`with torch.device(...)` knows the factory functions it redirects (torch.tensor, torch.as_tensor) by identity,
    from a set torch builds once per process on first use. Built while our wrappers stand in, it would hold them, not
    the functions it is then handed, and torch.tensor would ignore such contexts for the rest of the process
    (Transformers builds models on the meta device: their buffers came out as uninitialised memory). Build it now."""
    constructors = getattr(torch.utils._device, "_device_constructors", None)
    if constructors is not None:
        constructors()


def roughness(images: torch.Tensor) -> float | None:
    """(B, C, H, W): the mean squared difference between vertically neighbouring pixels over twice the pixels'
    variance about each image-channel's mean — near 0 where neighbours are alike, about 1 where a pixel is no
    more like its neighbour than like any other (noise). None when every image-channel is flat.
    Rows, because that is where channels-last memory read as channels-first shows: a step down a row jumps W/C
    pixels along the true row, while a step along it lands on the same pixel's next channel, alike whenever
    the channels are (grey, pastel)."""
    x = images.detach().float()
    spread = (x - x.mean((2, 3), keepdim=True)).pow(2).mean()
    if not spread > 0:
        return None
    return float((x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() / (2 * spread))


LOCAL_LAG = 3  # a few steps: past a smooth image's neighbours, within its objects


def local_roughness(images: torch.Tensor) -> tuple[float, float] | None:
    """(B, C, H, W): down the columns and along the rows, the mean squared difference between neighbouring pixels
    over that between pixels LOCAL_LAG apart, both in the same image and channel — well below 1 where the pixels
    have local structure (neighbours alike, pixels a few steps away less so), about 1 for noise. Offsets between
    channels, bands or blocks spread the pixels but show only at their edges, where both kinds of pair cross them,
    so they lower it in one direction at most. None when the images are too small or flat in a direction."""
    x = images.detach().float()
    ratios = []
    for dim in (2, 3):
        size = x.shape[dim]
        if size <= LOCAL_LAG:
            return None
        near = (x.narrow(dim, 1, size - 1) - x.narrow(dim, 0, size - 1)).pow(2).mean()
        far = (x.narrow(dim, LOCAL_LAG, size - LOCAL_LAG) - x.narrow(dim, 0, size - LOCAL_LAG)).pow(2).mean()
        if not far > 0:
            return None
        ratios.append(float(near / far))
    return ratios[0], ratios[1]


def channels_last_reading(images: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) images read as the (B, H, W, C) memory a view/reshape would have taken them from."""
    b, c, h, w = images.shape
    return images.reshape(b, h, w, c).permute(0, 3, 1, 2)
