"""Which column plays which part: the target, the time, the group keys (episode, scene, patient), row
ids. Named by the user, or found by the column's name; everything else is a feature."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# names compared lower-case, with separators removed ("Episode_ID" -> "episodeid")
TARGET_NAMES = {"target", "targets", "label", "labels", "y", "class", "action", "actions"}
ACTION_NAMES = {"action", "actions"}
TIME_NAMES = {"time", "timestamp", "datetime", "date", "ts", "timestep"}
GROUP_NAMES = {"episode", "episodeid", "episodeindex", "scene", "sceneid", "scenetoken", "trajectory", "trajectoryid",
               "trajid", "session", "sessionid", "patient", "patientid", "subject", "subjectid", "group", "groupid",
               "logid", "sequenceid", "seqid"}
ID_NAMES = {"id", "index", "idx", "rowid", "uid", "sampleid", "unnamed0"}
# roles a caller may name (`audit_data(..., episode="run_id")`); the driving and robotics ones are kept for
# the checks of those domains
ROLE_KEYS = ("target", "label", "time", "episode", "group", "id", "obs", "action", "position", "heading")


@dataclass
class Roles:
    target: list[str] = field(default_factory=list)
    time: str | None = None
    groups: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # targets that are a policy's actions (control data)
    named: dict[str, list[str]] = field(default_factory=dict)  # every role as given by the caller

    def special(self) -> set[str]:
        """Columns that are not features."""
        return {*self.target, *([self.time] if self.time else []), *self.groups, *self.ids}

    def to_dict(self) -> dict:
        return {"target": self.target, "time": self.time, "groups": self.groups, "ids": self.ids,
                "actions": self.actions}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _names(value) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def assign(columns: list[str], given: dict) -> Roles:
    """Roles from the caller's names (`given`: role -> column or columns) and, for the rest, from the
    columns' names. A named column that does not exist is a usage error naming the columns there are."""
    unknown = sorted(set(given) - set(ROLE_KEYS))
    if unknown:
        raise TypeError(f"unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLE_KEYS)}")
    named = {role: _names(v) for role, v in given.items() if _names(v)}
    missing = sorted({c for cols in named.values() for c in cols} - set(columns))
    if missing:
        from .sources import DataError

        raise DataError(f"no column named {', '.join(missing)}; the columns are {', '.join(columns[:40])}")
    target = named.get("target", []) + named.get("label", []) + named.get("action", [])
    if not target:
        target = [c for c in columns if _key(c) in TARGET_NAMES][:1]
    time = (named.get("time") or [next((c for c in columns if _key(c) in TIME_NAMES), None)])[0]
    groups = named.get("episode", []) + named.get("group", [])
    if not groups:
        groups = [c for c in columns if _key(c) in GROUP_NAMES]
    ids = named.get("id") or [c for c in columns if _key(c) in ID_NAMES]
    actions = named.get("action") or [c for c in target if _key(c) in ACTION_NAMES]
    return Roles(target=list(dict.fromkeys(target)), time=time, groups=list(dict.fromkeys(groups)), ids=ids,
                 actions=actions, named=named)
