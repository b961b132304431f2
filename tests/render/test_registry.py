"""The format registry: every renderer has one signature and renders every kind of report; the CLI's
--format is the registry's."""

import json

import jsonschema
import pytest
from typer.testing import CliRunner

from report_kinds import KINDS, reports as all_reports
from traindoctor.cli import app
from traindoctor.render import DEFAULT_FORMAT, RENDERERS, render
from traindoctor.render.base import RenderOptions
from traindoctor.render.json_report import schema
from traindoctor.vocabulary.jsonsafe import dumps


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return all_reports(tmp_path_factory)


def test_every_kind_of_report_is_built(reports):
    assert set(reports) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", RENDERERS)
def test_every_format_renders_every_kind_of_report(reports, fmt, kind):
    report, renderer = reports[kind], RENDERERS[fmt]
    before = dumps(report.to_dict())
    out = renderer.render(report, RenderOptions())
    assert isinstance(out, bytes if renderer.binary else str) and out
    assert dumps(report.to_dict()) == before  # a renderer presents; it changes nothing
    text = out.decode(errors="replace") if renderer.binary else out
    for f in report.findings:
        assert f.code in text, (fmt, kind, f.code)
    if fmt == "json" and kind != "hostile":  # the hostile report's sections are hand-made, not a producer's
        jsonschema.validate(json.loads(out), schema())
    if fmt == "json":
        assert json.loads(out)["command"] == report.command
    if fmt == "sarif":
        assert json.loads(out)["version"] == "2.1.0"


def test_every_renderer_describes_itself():
    assert DEFAULT_FORMAT in RENDERERS and not RENDERERS["text"].document
    for fmt, renderer in RENDERERS.items():
        assert renderer.description and "\n" not in renderer.description, fmt
        assert renderer.suffix.startswith("."), fmt


def test_unknown_format_names_the_choices():
    with pytest.raises(ValueError, match="text, markdown, html, json, sarif"):
        render(None, "yaml")


@pytest.mark.parametrize("command", ["run", "checkup", "lint", "report", "curves"])
def test_the_cli_formats_are_the_registry(command):
    """Every command's --format: its choices, default (the suffix of --output, else the registry's) and help."""
    done = CliRunner().invoke(app, [command, "--help"])
    assert done.exit_code == 0
    flat = "".join(done.output.split())  # --help wraps lines, at spaces and after hyphens
    assert f"-f,--format<{'|'.join(RENDERERS)}>" in flat and f"--output'ssuffixnames,else{DEFAULT_FORMAT}." in flat
    for fmt, renderer in RENDERERS.items():
        assert "".join(f"{fmt} ({renderer.suffix}): {renderer.description}".split()) in flat, fmt
    refused = CliRunner().invoke(app, [command, "--format", "yaml", "x"])
    assert refused.exit_code == 2 and all(f"'{fmt}'" in refused.output for fmt in RENDERERS)
