"""`path/to/file.py:function` -> the keyword arguments of `analyze`, from what that function returns:
a loss callable, or a dict with `loss_fn` (a callable or a dict of named components) and optionally
`axes`, `ranges`, `inputs`, `points` and `n`."""

from __future__ import annotations

import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

from .analyze import SurfaceError

KEYS = {"loss_fn", "axes", "ranges", "inputs", "points", "n"}


def load(target: str) -> dict[str, Any]:
    path, _, func = target.partition(":")
    func = func or "make_loss"
    file = Path(path)
    if not file.is_file():
        raise SurfaceError(f"{path}: no such file")
    saved = sys.path[:]
    sys.path.insert(0, str(file.resolve().parent))
    try:
        namespace = _user(lambda: runpy.run_path(str(file), run_name="__traindoctor_surface__"), f"importing {path}")
        if not callable(namespace.get(func)):
            raise SurfaceError(f"{path} defines no function {func}(); write one that returns the loss callable or "
                               "dict(loss_fn=..., axes=[...], ranges={...}, inputs={...})")
        made = _user(namespace[func], f"{path}:{func}()")
    finally:
        sys.path[:] = saved
    if callable(made) and not isinstance(made, dict):
        return {"loss_fn": made}
    if not isinstance(made, dict) or "loss_fn" not in made or set(made) - KEYS:
        raise SurfaceError(f"{path}:{func}() must return a loss callable or a dict with loss_fn and optionally "
                           f"{', '.join(sorted(KEYS - {'loss_fn'}))}" + (f"; unknown keys: {', '.join(sorted(set(made) - KEYS))}"
                                                                         if isinstance(made, dict) and set(made) - KEYS else ""))
    return made


def _user(fn, what: str):
    """Run the user's code; its error is theirs to fix: shown with its traceback, as a usage error."""
    try:
        return fn()
    except Exception as exc:
        shown = "".join(traceback.format_exception(exc)[1:]).rstrip()  # without the `Traceback` line of our frames
        raise SurfaceError(f"{what} raised {type(exc).__name__}: {exc}\n{shown}") from None
