"""The format registry: every renderer has one signature and renders every kind of report; the CLI's
--format is the registry's."""

import json

import jsonschema
import pytest
import typer

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
    if fmt == "json":
        jsonschema.validate(json.loads(out), schema())
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


def test_the_cli_formats_are_the_registry():
    cli = typer.main.get_command(app)
    with_format = {name: next(p for p in command.params if p.name == "format")
                   for name, command in cli.commands.items() if any(p.name == "format" for p in command.params)}
    assert set(with_format) == {"run", "checkup", "lint", "report", "curves"}
    for name, option in with_format.items():
        assert list(option.type.choices) == list(RENDERERS), name
        assert option.default == DEFAULT_FORMAT, name
        assert option.opts == ["--format", "-f"], name
        for fmt, renderer in RENDERERS.items():
            assert f"{fmt} ({renderer.suffix}): {renderer.description}" in option.help, (name, fmt)
