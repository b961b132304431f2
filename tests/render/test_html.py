"""The HTML report: self-contained, escaped, with the figures each command can draw — and checked
in a real headless Chromium (Debian's `chromium`, which `make test` installs when missing)."""

import os
import re
import shutil

import numpy as np
import pytest

from conftest import codes, validate
from report_kinds import hostile_report, monitored_run, reports as all_reports
from traindoctor.curves import analyze
from traindoctor.render import render
from traindoctor.render.figures import figures
from traindoctor.vocabulary.finding import finding
from traindoctor.vocabulary.report import Report


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return all_reports(tmp_path_factory)


EXPECTED_FIGURES = {
    "run": {"loss", "lr-schedule", "grad-norm-by-module"},
    "curves": {"loss", "metrics", "lr-schedule"},
    "checkup": {"overfit", "lr-range"},
    "report": {"loss", "lr-schedule", "grad-norm-by-module"},
    "lint": set(),
    "sweeps": {"sweep-lr"},
    "data": {"data-histograms", "class-balance-label", "slices-train-agent", "slices-eval-agent"},
}


@pytest.mark.parametrize("command", EXPECTED_FIGURES)
def test_each_command_draws_its_figures_from_the_report(reports, command):
    assert {p.name for p in figures(reports[command])} == EXPECTED_FIGURES[command]


@pytest.mark.parametrize("command", EXPECTED_FIGURES)
def test_html_is_self_contained(reports, command):
    page = render(reports[command], "html")
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == len(EXPECTED_FIGURES[command])
    # nothing to fetch: no scripts, stylesheets, images or fonts from elsewhere
    for fetch in ("<script", "<link", "<img", "<iframe", "@import", 'src="http', 'href="http'):
        assert fetch not in page, fetch
    assert not re.search(r"url\((?!#)", page)  # only references inside the page (SVG clip paths)
    assert not re.search(r'href="(?!#|data:)', page)
    report = reports[command]
    for f in report.findings:
        assert f.code in page
    assert ("no problem found" in page) == (not report.findings)


def test_html_escapes_what_the_user_controls():
    hostile = Report("run <script>alert(1)</script>.py", [finding("script-error", "raised <b>&</b>", "run")])
    page = render(hostile, "html")
    assert "<script>" not in page and "&lt;script&gt;" in page and "raised &lt;b&gt;&amp;&lt;/b&gt;" in page


def test_heatmap_rows_are_modules_and_columns_sampled_steps(reports):
    history = reports["report"].sections["monitor"]["history"]
    assert [r["step"] for r in history["modules"]] == list(range(0, 300, 10))  # sample_every=10
    assert set(history["modules"][0]["grad_norm_by_module"]) == {"0", "2"}
    assert len(history["steps"]) == 300


# ── in a real browser ─────────────────────────────────────────────────────────

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
# CI sets this so that a browser that failed to install is a failure, not a skip.
needs_browser = pytest.mark.skipif(not BROWSER and not os.environ.get("TRAINDOCTOR_REQUIRE_BROWSER"),
                                   reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def browser():
    assert BROWSER, "TRAINDOCTOR_REQUIRE_BROWSER is set but no chromium is installed"
    from playwright import sync_api  # the test extra installs it
    with sync_api.sync_playwright() as p:
        # the flags keep a closed network from refusing Chromium's own background connections
        b = p.chromium.launch(executable_path=BROWSER, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@needs_browser
@pytest.mark.parametrize("width", [390, 1280], ids=["phone", "laptop"])
@pytest.mark.parametrize("command", EXPECTED_FIGURES)
def test_report_loads_in_chromium(browser, reports, tmp_path, command, width):
    from matplotlib.image import imread

    path = tmp_path / f"{command}.html"
    path.write_text(render(reports[command], "html"))
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(path.as_uri(), wait_until="load")
    assert problems == []
    # readable on a phone: the page itself never scrolls sideways (wide figures and tables scroll in their box)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    boxes = [page.locator("figure svg").nth(i).bounding_box() for i in range(page.locator("figure svg").count())]
    assert len(boxes) == len(EXPECTED_FIGURES[command]) and all(b["width"] > 300 and b["height"] > 100 for b in boxes)
    shot = tmp_path / f"{command}-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    pixels = imread(shot)[..., :3]
    ink = (pixels < 0.9).any(axis=-1).mean()  # share of pixels that are not (near) white
    assert ink > 0.01, f"screenshot of the {command} report is blank ({ink:.2%} ink)"
    assert len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50  # text and plots, not a flat fill


def test_curves_of_a_monitor_log_draw_lr_and_module_heatmap(tmp_path):
    monitored_run(tmp_path, steps=120)
    report = validate(analyze(tmp_path / "run"))
    assert report.sections["curves"]["roles"]["lr"] == ["lr/0"]
    assert set(report.sections["curves"]["roles"]["modules"]) == {"grad_norm_by_module/0", "grad_norm_by_module/2"}
    assert {p.name for p in figures(report)} == {"loss", "lr-schedule", "grad-norm-by-module"}
    assert codes(report) == []  # a healthy monitored run: its nested series raise nothing


def test_markdown_shows_user_text_as_written_and_keeps_its_structure():
    from markdown_it import MarkdownIt

    report, evil = hostile_report()
    source = render(report, "markdown")
    page = MarkdownIt("commonmark").enable("table").render(source)
    assert "<script" not in page and "<i>" not in page and "<evil>" not in page and "href" not in page
    assert "<em>" not in page and "<h1>heading" not in page  # no emphasis, no heading from the user's text
    tables = re.findall(r"<table>.*?</table>", page, re.S)
    assert len(tables) == 3  # findings, hypotheses, probes: a pipe in a cell opened no column
    for table in tables:
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        assert len({len(re.findall(r"<t[hd][ >]", r)) for r in rows}) == 1, table
    [block] = re.findall(r"<pre><code>(.*?)</code></pre>", page, re.S)  # ``` in the traceback did not close it
    assert block.rstrip().endswith("end") and "&lt;script&gt;" in block
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7  # shown, not run, in each place
    assert "src/&lt;evil&gt;|x.py" in page and "skipped &lt;script&gt;" in page


def test_html_escapes_every_user_text_field():
    from html.parser import HTMLParser

    report, _ = hostile_report()
    page = render(report, "html")
    tags = set()

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.add(tag)

    Tags().feed(page)
    assert not tags & {"script", "evil", "net", "i", "a"}, tags
    assert "skipped &lt;script&gt;" in page and "src/&lt;evil&gt;|x.py" in page
