"""Terminal output with rich; plain text when the output is not a terminal."""

from __future__ import annotations

import io

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..vocabulary.report import Report
from .base import RenderOptions, stuck_rows
from .headline import could_not_check, footer, header, location, notes

_MARK = {"error": ("✗", "bold red"), "warning": ("!", "bold yellow"), "info": ("i", "cyan")}


def render(report: Report, options: RenderOptions) -> str:
    if "lint" in report.sections:
        return _lint(report, options.color)
    return _diagnosis(report, options.color, options.width)


def _diagnosis(report: Report, color: bool, width: int) -> str:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, width=width,
                      highlight=False, emoji=False, soft_wrap=False)
    console.print(Text(header(report), style="bold"), soft_wrap=True)
    warning = could_not_check(report)
    if warning:
        console.print(Text(warning, style="bold magenta"), soft_wrap=True)
    for note in notes(report):
        console.print(Text(f"note: {note}", style="dim"), soft_wrap=True)
    for f in report.findings:
        mark, style = _MARK[f.severity]
        head = Text()
        head.append(f"{mark} {f.severity:<8} ", style=style)
        head.append(f"{f.code}", style="bold")
        head.append(f"  {f.title}")
        console.print()
        console.print(head)
        rows = Table.grid(padding=(0, 2))
        rows.add_column(style="dim", no_wrap=True, width=8)
        rows.add_column(overflow="fold")
        rows.add_row("observed", f.observation)
        where = location(f)
        if where:
            rows.add_row("where", where)
        if f.explained_by:
            rows.add_row("cause", f"follows from {f.explained_by} (above)")
        elif f.severity != "info":
            for h in f.hypotheses:
                rows.add_row(h.kind if h.kind != "null" else "benign", h.cause)
                rows.add_row("check", h.check)
            if f.next_step:
                rows.add_row("next", f.next_step)
        console.print(Padding(rows, (0, 0, 0, 2)))
        if "traceback" in f.evidence:
            tb = f.evidence["traceback"].rstrip().splitlines()
            shown = tb if len(tb) <= 16 else [tb[0], "  ..."] + tb[-14:]
            console.print(Text("\n".join("    " + line for line in shown), style="dim"))
    checkup = report.sections.get("checkup")
    if checkup:
        console.print()
        if checkup.get("batch_axis", {}).get("subsampled"):
            console.print(f"  {checkup['batch_axis']['subsampled']} for the probes' memory budget")
        probes = Table.grid(padding=(0, 2))
        for p in checkup["probes"]:
            mark = {"ran": "✓", "skipped": "–", "failed": "?"}[p["status"]]
            probes.add_row(f"  {mark} {p['name']}", f"{p['seconds']:.2f} s", p.get("note", "") if p["status"] != "ran" else "")
        console.print(probes)
    _experiments(console, report)
    _sweeps(console, report)
    _surface(console, report)
    _stuck(console, report)
    console.print()
    console.print(Text(footer(report) + " · full record: --format json", style="bold"), soft_wrap=True)
    # Table cells are padded to the column width; trailing blanks are noise in logs and diffs.
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def _experiments(console: Console, report: Report) -> None:
    """The differential diagnosis's arms, one line each: what was tried and what it showed."""
    section = next((s.get("experiments") for s in report.sections.values() if isinstance(s, dict)), None)
    if not section or not section.get("ran"):
        return
    console.print()
    console.print(Text(f"experiments on copies ({section['why']}):", style="bold"), soft_wrap=True)
    arms = Table.grid(padding=(0, 2))
    arms.add_column(no_wrap=True)
    arms.add_column(overflow="fold")
    for o in section["observations"]:
        verdict = f" — keeps: {'; '.join(o['keeps'])}" if o["keeps"] else ""
        arms.add_row(f"  {o['name']}", o["outcome"] + verdict)
    console.print(arms)


def _sweeps(console: Console, report: Report) -> None:
    """Per group and parameter, the seeds' table: mean, spread, mean z, the paired difference and its t."""
    section = report.sections.get("sweeps")
    if not section:
        return
    for group, entry in section["groups"].items():
        for param, st in entry["parameters"].items():
            console.print()
            where = f" in group {group}" if group else ""
            console.print(Text(f"{param}{where}: {section['metric']} over {len(st['paired_seeds'])} paired seeds",
                               style="bold"), soft_wrap=True)
            table = Table(box=None, padding=(0, 1), pad_edge=False)
            for name in ("value", "runs", "mean", "q10", "q90", "mean z", "vs others", "t"):
                table.add_column(name, justify="left" if name == "value" else "right")
            for r in st["values"]:
                table.add_row(str(r["value"]), str(r["runs"]), *(_g(r[k]) for k in ("mean", "q10", "q90", "mean_z", "diff", "t")))
            console.print(Padding(table, (0, 0, 0, 2)))
            trend = st.get("trend")
            if trend:
                console.print(f"  dose-response: r = {_g(trend['r'])} on {'log10 ' if trend['log_scale'] else ''}{param}, "
                              f"t = {_g(trend['t'])} over the seeds' slopes", soft_wrap=True)


def _surface(console: Console, report: Report) -> None:
    """Per component of the loss, its table: loss and gradient at the representative inputs, with the flags."""
    section = report.sections.get("surface")
    for c in section["components"] if section else ():
        console.print()
        console.print(Text(f"{c['name']}: " + ", ".join(f"{a} in [{lo:g}, {hi:g}]" for a, (lo, hi) in zip(c["axes"], c["ranges"])),
                           style="bold"), soft_wrap=True)
        table = Table(box=None, padding=(0, 1), pad_edge=False)
        for name in ("input", "at", "loss", "gradient", "flags"):
            table.add_column(name, justify="right" if name == "loss" else "left")
        for r in c["table"]:
            grad = ", ".join(f"{k} {float(g) + 0.0:.4g}" for k, g in r["grad"].items()) or r.get("error", "")
            table.add_row(r["input"], r["at"], "raised" if r["loss"] is None else _g(float(r["loss"]) + 0.0), grad,
                          ", ".join(r.get("flags", [])))
        console.print(Padding(table, (0, 0, 0, 2)))


def _stuck(console: Console, report: Report) -> None:
    """why_stuck's measurements, the rows of the decision table: the metric as the outputs move along the
    loss's descent, as the parameters step along the loss gradient, and after training copies."""
    section = report.sections.get("why_stuck")
    if not section:
        return
    console.print()
    console.print(Text(f"metric {_g(section['metric'])}, loss {_g(section['loss'])} (gradient norm on the outputs "
                       f"{_g(section['loss_grad_norm'])})", style="bold"), soft_wrap=True)
    for title, rows, key, label in stuck_rows(section):
        console.print(Text(f"  {title}"), soft_wrap=True)
        table = Table(box=None, padding=(0, 1), pad_edge=False)
        for name in (label, "loss", "metric"):
            table.add_column(name, justify="right")
        for r in rows:
            table.add_row(_g(r[key]) if key else r["arm"], _g(r.get("loss")), _g(r["metric"]))
        console.print(Padding(table, (0, 0, 0, 2)))


def _g(v) -> str:
    return "—" if v is None else f"{v:.4g}"


def _lint(report: Report, color: bool) -> str:
    """One line per finding, as compilers and ruff print them: path:line:col: code message."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, highlight=False, emoji=False,
                      soft_wrap=True)
    for f in report.findings:
        loc = f.location
        where = f"{loc.get('file')}:" + (f"cell {loc['cell']}:" if "cell" in loc else "") + f"{loc.get('line')}:{loc.get('column')}:"
        line = Text(where + " ", style="bold")
        line.append(f.code, style=_MARK[f.severity][1])
        line.append(f" {f.observation}")
        console.print(line)
    warning = could_not_check(report)  # files that could not be read or parsed
    if warning:
        console.print(Text(warning, style="bold magenta"))
    s = report.summary()
    files = report.sections["lint"]["files"]
    console.print(Text(f"{len(report.findings)} finding{'s' * (len(report.findings) != 1)} "
                       f"({s['errors']} error, {s['warnings']} warning, {s['infos']} info) in {files} file{'s' * (files != 1)}",
                       style="bold"))
    return buf.getvalue()
