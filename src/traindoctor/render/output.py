"""Where a command's report goes: the one writer, and the checks of --output and --plots that run
before anything else (a wrong path must not cost a finished run its report)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..vocabulary.report import Report, write_atomic
from . import renderer
from .base import RenderOptions


def write(report: Report, fmt: str, path: Path | None) -> None:
    """Render the report as `fmt` into the file `path` (atomically) or onto stdout. A file that cannot be
    written after all (disk full) sends the report to stdout instead, saying so on stderr: never lost."""
    render = renderer(fmt).render
    if path is None:
        color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        _stdout(render(report, RenderOptions(color=color)))
        return
    data = render(report, RenderOptions())  # rendered before the file is touched: a failing render writes nothing
    try:
        write_atomic(path, data)
    except OSError as exc:
        _say(f"traindoctor: could not write the report to {path} ({exc.strerror or exc}); writing it to stdout instead")
        _stdout(data)
    else:
        _say(f"report written to {path}")


def write_figures(report: Report, folder: Path) -> None:
    """The report's figures as PNG files in `folder`; a failure is said on stderr and costs nothing else."""
    from .figures import figures, save_png  # matplotlib only when figures are asked for (0.3 s at start)
    try:
        written = save_png(figures(report), folder)
    except OSError as exc:
        _say(f"traindoctor: could not save the figures in {folder}: {exc.strerror or exc}")
    else:
        _say(f"{len(written)} figure(s) written to {folder}" if written else "no figure to draw for this report")


def output_problem(path: Path) -> str | None:
    """Why the report could not be written to the file `path`, or None."""
    if path.is_dir():
        return f"{path}: is a directory; give a file name, e.g. {path / 'report.html'}"
    if not path.parent.is_dir():
        return f"{path}: directory {path.parent} does not exist"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path}: exists and is not writable"
    if path.is_symlink() or path.exists() and not path.is_file():
        return None  # a link, /dev/stdout, a pipe: written through in place, the directory is not involved
    problem = _writable_dir(path.parent)  # the file is written aside there, then renamed over
    return f"{path}: {problem}" if problem else None


def folder_problem(path: Path) -> str | None:
    """Why figures could not be saved into the directory `path` (created when missing), or None."""
    if path.exists() and not path.is_dir():
        return f"{path} is a file; give a directory"
    problem = _writable_dir(path)
    return f"{path}: {problem}" if problem else None


def _writable_dir(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (or in the nearest folder that exists), or None."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a directory"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"directory {folder} is not writable"
    return None


def _stdout(data: str | bytes) -> None:
    if isinstance(data, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(data)


def _say(message: str) -> None:
    print(message, file=sys.stderr)
