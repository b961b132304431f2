"""One self-contained HTML file: the diagnosis first, then the figures inlined as SVG.

No scripts, no fonts, no network: the file opens the same from an e-mail attachment, a CI
artifact or a phone. The layout is one fluid column; wide tables scroll inside their box.
"""

from __future__ import annotations

from html import escape

from ..version import __version__
from ..vocabulary.finding import Finding
from ..vocabulary.report import Report
from .base import RenderOptions, stuck_rows
from .headline import could_not_check, footer, header, location, notes

_MARK = {"error": "✗", "warning": "!", "info": "i"}

_CSS = """
:root{--error:#c0262d;--warning:#b25e00;--info:#1d5fa8;--ok:#1e7b34;--line:#d8dbe0;--soft:#f5f6f8;--text:#1b1d21;--dim:#5b616b}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--text);background:#fff}
main{max-width:64rem;margin:0 auto;padding:1rem}
h1{font-size:1.2rem;margin:.2rem 0 .4rem;overflow-wrap:anywhere}
h2{font-size:1.1rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h3{font-size:1rem;margin:1.6rem 0 .6rem}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
pre{background:var(--soft);padding:.6rem;overflow-x:auto;border-radius:4px}
.summary{display:flex;flex-wrap:wrap;gap:.5rem;margin:.8rem 0 1.2rem}
.chip{border-radius:999px;padding:.15rem .7rem;font-weight:600;border:1px solid currentColor}
.chip.error{color:var(--error)}.chip.warning{color:var(--warning)}.chip.info{color:var(--info)}.chip.ok{color:var(--ok)}.chip.unchecked{color:var(--error);border-style:dashed}
.finding{border:1px solid var(--line);border-left:6px solid var(--line);border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem}
.finding.error{border-left-color:var(--error)}.finding.warning{border-left-color:var(--warning)}.finding.info{border-left-color:var(--info)}
.sev{font-weight:700;text-transform:uppercase;font-size:.8rem;letter-spacing:.04em;margin-right:.4rem}
.error .sev{color:var(--error)}.warning .sev{color:var(--warning)}.info .sev{color:var(--info)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem .9rem;margin:.4rem 0}
dt{color:var(--dim)}dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:var(--soft)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:0 0 1.4rem}
figure .plot{overflow-x:auto}
figure svg{display:block;width:100%;min-width:30rem;height:auto}
figcaption{color:var(--dim);font-size:.9rem}
.notes{color:var(--dim);margin:0 0 1rem;padding-left:1.2rem}
footer{color:var(--dim);border-top:1px solid var(--line);margin-top:2rem;padding-top:.6rem;font-size:.9rem}
td code{overflow-wrap:anywhere}
@media (max-width:40rem){body{font-size:15px}main{padding:.7rem}dl{grid-template-columns:1fr}dt{margin-top:.3rem}
table.lint tr:first-child{display:none}table.lint td{display:block;border:0;padding:.1rem 0}table.lint tr{display:block;border-bottom:1px solid var(--line);padding:.5rem 0}}
"""


def render(report: Report, options: RenderOptions) -> str:
    from .figures import figures, svg  # matplotlib costs every command 0.3 s at start; only HTML draws
    body = [f"<h1>{escape(header(report))}</h1>", _summary(report)]
    if notes(report):
        body.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes(report)) + "</ul>")
    if "lint" in report.sections:
        body.append(_lint_table(report))
    else:
        body += [_finding(f) for f in report.findings]
    plots = figures(report)
    if plots:
        body.append("<h3>Figures</h3>")
        body += [f'<figure><div class="plot">{svg(p)}</div><figcaption>{escape(p.caption)}</figcaption></figure>' for p in plots]
    body += _details(report)
    body.append(f"<footer>{escape(footer(report))} · traindoctor {escape(__version__)} · "
                "the full record: <code>--format json</code></footer>")
    title = escape(f"traindoctor {report.command}")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{title}</title><style>{_CSS}</style></head>\n<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n")


def _summary(report: Report) -> str:
    s = report.summary()
    warning = could_not_check(report)
    if not report.findings and not warning:
        return '<div class="summary"><span class="chip ok">no problem found</span></div>'
    chips = [f'<span class="chip unchecked">{escape(warning)}</span>'] if warning else []
    chips += [f'<span class="chip {sev}">{n} {sev}{"s" * (n != 1 and sev != "info")}</span>'
             for sev, n in (("error", s["errors"]), ("warning", s["warnings"]), ("info", s["infos"])) if n]
    if s["errors"]:
        chips.append(f'<span>most likely root cause: <code>{escape(s["root_cause"])}</code></span>')
    return f'<div class="summary">{"".join(chips)}</div>'


def _finding(f: Finding) -> str:
    rows = [("observed", escape(f.observation))]
    if location(f):
        rows.append(("where", escape(location(f))))
    if f.explained_by:
        rows.append(("cause", f"follows from <code>{escape(f.explained_by)}</code> (above)"))
    parts = [f'<section class="finding {f.severity}">',
             f'<h2><span class="sev">{_MARK[f.severity]} {f.severity}</span><code>{escape(f.code)}</code> — {escape(f.title)}</h2>',
             "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"]
    if f.hypotheses and f.severity != "info" and not f.explained_by:
        head = "<tr><th>hypothesis</th><th>kind</th><th>cheapest check</th></tr>"
        cells = "".join(f"<tr><td>{escape(h.cause)}</td><td>{escape(h.kind)}</td><td>{escape(h.check)}</td></tr>"
                        for h in f.hypotheses)
        parts.append(f'<div class="scroll"><table>{head}{cells}</table></div>')
    if f.next_step and f.severity != "info" and not f.explained_by:
        parts.append(f"<p><strong>Next step:</strong> {escape(f.next_step)}</p>")
    if "traceback" in f.evidence:
        parts.append(f"<details><summary>traceback</summary><pre>{escape(f.evidence['traceback'].rstrip())}</pre></details>")
    parts.append("</section>")
    return "\n".join(parts)


def _lint_table(report: Report) -> str:
    if not report.findings:
        return ""
    rows = []
    for f in report.findings:
        loc = f.location
        where = f"{loc.get('file')}:" + (f"cell {loc['cell']}:" if "cell" in loc else "") + f"{loc.get('line')}:{loc.get('column')}"
        rows.append(f'<tr class="{f.severity}"><td><code>{escape(where)}</code></td>'
                    f'<td><span class="sev">{f.severity}</span><code>{escape(f.code)}</code></td><td>{escape(f.observation)}</td></tr>')
    return ('<div class="scroll"><table class="lint"><tr><th>where</th><th>code</th><th>finding</th></tr>'
            + "".join(rows) + "</table></div>")


def _details(report: Report) -> list[str]:
    out = []
    checkup = report.sections.get("checkup")
    if checkup:
        rows = "".join(f"<tr><td>{escape(p['name'])}</td><td>{escape(p['status'])}</td>"
                       f"<td class=\"num\">{p['seconds']:.2f}</td><td>{escape(p.get('note', ''))}</td></tr>"
                       for p in checkup["probes"])
        out.append("<h3>Probes</h3><div class=\"scroll\"><table><tr><th>probe</th><th>status</th><th>seconds</th>"
                   f"<th>note</th></tr>{rows}</table></div>")
    curves = report.sections.get("curves")
    if curves:
        rows = "".join(f"<tr><td><code>{escape(name)}</code></td><td class=\"num\">{s['points']}</td>"
                       f"<td class=\"num\">{_g(s['first'])}</td><td class=\"num\">{_g(s['last'])}</td>"
                       f"<td class=\"num\">{s['nonfinite']}</td></tr>"
                       for name, s in curves["series"].items() if "group" not in s)  # per-module series: in the heatmap
        out.append("<h3>Series</h3><div class=\"scroll\"><table><tr><th>series</th><th>points</th><th>first</th>"
                   f"<th>last</th><th>non-finite</th></tr>{rows}</table></div>")
    sweeps = report.sections.get("sweeps")
    if sweeps:
        out += _sweep_tables(sweeps)
    surface = report.sections.get("surface")
    if surface:
        out += _surface_tables(surface)
    stuck = report.sections.get("why_stuck")
    if stuck:
        out += _stuck_tables(stuck)
    data = report.sections.get("data")
    if data and data.get("splits"):
        out += _data_tables(data)
    lint = report.sections.get("lint")
    if lint and lint.get("problems"):
        out.append("<h3>Files not linted</h3><ul>" + "".join(f"<li>{escape(str(p))}</li>" for p in lint["problems"]) + "</ul>")
    return out


def _sweep_tables(section: dict) -> list[str]:
    """Per group and parameter, the seeds' analysis: mean and spread, mean z, the paired difference and its t."""
    out = []
    head = ("<tr><th>value</th><th>runs</th><th>seeds</th><th>mean</th><th>q10</th><th>q90</th><th>mean z</th>"
            "<th>vs others</th><th>t</th><th>p</th></tr>")
    for group, entry in section["groups"].items():
        for param, st in entry["parameters"].items():
            rows = "".join(f"<tr><td><code>{escape(str(r['value']))}</code></td><td class=\"num\">{r['runs']}</td>"
                           f"<td class=\"num\">{r['seeds']}</td>"
                           + "".join(f"<td class=\"num\">{_g(r[k])}</td>" for k in ("mean", "q10", "q90", "mean_z", "diff", "t", "p"))
                           + "</tr>" for r in st["values"])
            trend = st.get("trend")
            line = (f"<p>dose-response: r = {_g(trend['r'])} on {'log10 ' if trend['log_scale'] else ''}{escape(param)}, "
                    f"t = {_g(trend['t'])} over the seeds' slopes</p>") if trend else ""
            where = f" — group <code>{escape(group)}</code>" if group else ""
            out.append(f"<h3><code>{escape(param)}</code>{where}: {escape(section['metric'])} over "
                       f"{len(st['paired_seeds'])} paired seeds</h3><div class=\"scroll\"><table>{head}{rows}</table></div>{line}")
    if section["nonfinite_runs"]:
        rows = "".join(f"<tr><td><code>{escape(r['run'])}</code></td><td>{escape(str(r.get('seed', '')))}</td>"
                       f"<td>{escape(', '.join(f'{k}={v}' for k, v in r['config'].items()))}</td><td>{escape(str(r['metric']))}</td></tr>"
                       for r in section["nonfinite_runs"])
        out.append("<h3>Runs with a non-finite metric (left out of the numbers)</h3><div class=\"scroll\"><table>"
                   f"<tr><th>run</th><th>seed</th><th>configuration</th><th>metric</th></tr>{rows}</table></div>")
    return out


def _surface_tables(section: dict) -> list[str]:
    """Per component of the loss: its value and gradient at the representative inputs, with the flags."""
    out = []
    head = "<tr><th>input</th><th>at</th><th>loss</th><th>gradient</th><th>flags</th></tr>"
    for c in section["components"]:
        rows = "".join(f"<tr><td>{escape(r['input'])}</td><td><code>{escape(r['at'])}</code></td>"
                       f"<td class=\"num\">{'raised' if r['loss'] is None else _g(float(r['loss']) + 0.0)}</td>"
                       f"<td><code>{escape(', '.join(f'{k} {float(g) + 0.0:.4g}' for k, g in r['grad'].items()) or r.get('error', ''))}</code></td>"
                       f"<td>{escape(', '.join(r.get('flags', [])))}</td></tr>" for r in c["table"])
        how = {True: "vectorised", False: "cell by cell", None: "not computed"}[c["vectorised"]]
        out.append(f"<h3>Loss table: <code>{escape(c['name'])}</code></h3><p>grid over "
                   f"{escape(', '.join(f'{a} in [{lo:g}, {hi:g}]' for a, (lo, hi) in zip(c['axes'], c['ranges'])))} "
                   f"({how}); held fixed: {escape(', '.join(c['fixed']) or 'nothing')}</p>"
                   f"<div class=\"scroll\"><table>{head}{rows}</table></div>")
    return out


def _stuck_tables(section: dict) -> list[str]:
    """why_stuck's measurements, the rows of its decision table."""
    out = [f"<h3>The measurements behind the verdict</h3><p>metric {_g(section['metric'])}, loss "
           f"{_g(section['loss'])}, loss gradient norm on the outputs {_g(section['loss_grad_norm'])}</p>"]
    for title, rows, key, label in stuck_rows(section):
        body = "".join(f"<tr><td class=\"num\">{_g(r[key]) if key else escape(r['arm'])}</td>"
                       f"<td class=\"num\">{_g(r.get('loss'))}</td><td class=\"num\">{_g(r['metric'])}</td></tr>"
                       for r in rows)
        out.append(f"<h4>{escape(title)}</h4><div class=\"scroll\"><table><tr><th class=\"num\">{escape(label)}</th>"
                   f"<th class=\"num\">loss</th><th class=\"num\">metric</th></tr>{body}</table></div>")
    return out


def _data_tables(section: dict) -> list[str]:
    """Per split, each dimension's statistics; then the slices' metrics and the label-noise estimate."""
    out = []
    head = ("<tr><th>dimension</th><th>count</th><th>missing</th><th>mean</th><th>std</th><th>min</th><th>q01</th>"
            "<th>median</th><th>q99</th><th>max</th><th>distinct</th></tr>")
    for name, split in section["splits"].items():
        rows = []
        for dim, st in split["dims"].items():
            q = st.get("quantiles") or st.get("row_mean_quantiles") or {}
            cells = [st["count"], st["missing"] + st.get("infinite", 0), st.get("mean"), st.get("std"), st.get("min"),
                     q.get("q01"), q.get("q50"), q.get("q99"), st.get("max")]
            distinct = st.get("distinct")
            rows.append(f"<tr><td><code>{escape(dim)}</code></td>" + "".join(f'<td class="num">{_n(c)}</td>' for c in cells)
                        + f'<td class="num">{"&gt;1000" if distinct is None and "distinct" in st else _n(distinct)}</td></tr>')
        left = f"<p>{split['dims_left_out']} more dimensions in the JSON report.</p>" if split.get("dims_left_out") else ""
        text = "".join(f"<tr><td><code>{escape(c)}</code></td><td class=\"num\">{_n(t['distinct'])}</td>"
                       f"<td class=\"num\">{t['missing']}</td><td>{escape(', '.join(f'{k} ({v})' for k, v in t['top']))}</td></tr>"
                       for c, t in split.get("text", {}).items())
        out.append(f"<h3>{escape(name)}: {split['rows']:,} rows</h3><div class=\"scroll\"><table>{head}{''.join(rows)}"
                   "</table></div>" + left
                   + (f"<div class=\"scroll\"><table><tr><th>text column</th><th>distinct</th><th>missing</th>"
                      f"<th>most frequent</th></tr>{text}</table></div>" if text else ""))
    for split, columns in section.get("slices", {}).items():
        for column, table in columns.items():
            rows = "".join(f"<tr><td><code>{escape(r['value'])}</code></td><td class=\"num\">{r.get('rows', r['sampled'])}</td>"
                           f"<td class=\"num\">{_g(r['mean'])}</td><td class=\"num\">{_g(r.get('t'))}</td>"
                           f"<td>{'underperforms' if r.get('underperforms') else '' if r.get('judged') else 'too few rows to judge'}"
                           "</td></tr>" for r in table["slices"])
            better = "higher" if table["higher_is_better"] else "lower"
            out.append(f"<h3>{escape(table['metric'])} by <code>{escape(column)}</code> in {escape(split)} ({better} is "
                       f"better; all rows: {_g(table['aggregate'])})</h3><div class=\"scroll\"><table><tr><th>slice</th>"
                       f"<th>rows</th><th>metric</th><th>t vs rest</th><th></th></tr>{rows}</table></div>")
    noise = section.get("label_noise")
    if noise:
        rows = "".join(f"<tr><td>{escape(split)}</td><td>{escape(r['method'])}</td><td class=\"num\">{r['judged']}</td>"
                       f"<td class=\"num\">{r['count']}</td><td class=\"num\">{r['share']:.1%}</td></tr>"
                       for split, r in noise.items())
        out.append("<h3>Label noise</h3><div class=\"scroll\"><table><tr><th>split</th><th>method</th><th>rows judged</th>"
                   f"<th>suspect</th><th>share</th></tr>{rows}</table></div>")
    return out


def _n(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, int):
        return f"{v:,}"
    return _g(float(v))


def _g(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"
