"""The Report: what one producer found, in the order triage gave, plus its sections; and its JSON
document (`to_dict` through `jsonsafe`), the contract every reader of a report relies on."""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..version import __version__
from .finding import SEVERITY_RANK as _SEVERITY_RANK, Finding
from .jsonsafe import dumps


@dataclass
class Report:
    """`unchecked` lists why the producer could not look (nothing observed, monitor disabled,
    most probes failed): such a report never reads "no problem found" and exits 2 unless it
    found an error anyway."""

    command: str
    findings: list[Finding]
    sections: dict[str, Any] = field(default_factory=dict)
    unchecked: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 1
        return 2 if self.unchecked else 0

    def summary(self) -> dict[str, Any]:
        count = {s: sum(f.severity == s for f in self.findings) for s in _SEVERITY_RANK}
        root = self.findings[0].code if self.findings else None  # triage put the likeliest cause first
        return {"errors": count["error"], "warnings": count["warning"], "infos": count["info"], "root_cause": root,
                "could_not_check": list(self.unchecked)}

    def to_dict(self) -> dict[str, Any]:
        out = {
            "tool": "traindoctor",
            "version": __version__,
            "command": self.command,
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.summary(),
        }
        out.update(self.sections)
        return out


def json_text(report: Report) -> str:
    """The report's JSON document: `--format json` and the Monitor's report.json, byte for byte."""
    return dumps(report.to_dict())


def save_json(report: Report, path: Path) -> None:
    """Write the report's JSON document to `path` atomically (see `write_atomic`)."""
    write_atomic(Path(path), json_text(report))


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path`: aside in the same directory, then renamed over it, so a
    kill or a full disk mid-write never leaves a truncated file, and a failed write leaves no temporary
    one; an existing file keeps its permissions. Anything but a regular file (a symlink, /dev/stdout, a
    pipe) is written through in place, as `open` would: renaming would replace the link or the device.
    Raises OSError."""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    content = data.encode() if isinstance(data, str) else data
    if mode is not None and not stat.S_ISREG(mode):
        with open(path, "wb") as f:
            f.write(content)
        return
    # one writer per process and thread at a time: no two writers share a temporary name
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666), "wb") as f:  # 0o666: the umask applies
            f.write(content)
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
