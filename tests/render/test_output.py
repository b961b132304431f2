"""The one writer: a report goes to a file atomically or to stdout, and is never lost on the way."""

import os
import stat

import pytest

from traindoctor.render import RENDERERS, render
from traindoctor.render.base import Renderer
from traindoctor.render.output import folder_problem, output_problem, write
from traindoctor.vocabulary import report as report_module
from traindoctor.vocabulary.finding import finding
from traindoctor.vocabulary.report import Report, save_json

REPORT = Report("run x", [finding("double-softmax", "softmax before cross_entropy", "run")])


def _boom(report, options):
    raise RuntimeError("renderer bug")


def test_a_file_gets_the_rendered_report_and_nothing_else(tmp_path, capsys):
    path = tmp_path / "report.md"
    write(REPORT, "markdown", path)
    assert path.read_text() == render(REPORT, "markdown")
    assert os.listdir(tmp_path) == ["report.md"]  # no temporary file left beside it
    out, err = capsys.readouterr()
    assert out == "" and err == f"report written to {path}\n"


def test_without_a_path_the_report_goes_to_stdout(capsys):
    write(REPORT, "text", None)
    out, err = capsys.readouterr()
    assert out == render(REPORT, "text") and "\x1b[" not in out and err == ""  # not a terminal: no colour


def test_a_failing_render_leaves_the_old_file_whole(tmp_path, monkeypatch):
    monkeypatch.setitem(RENDERERS, "boom", Renderer(_boom, "raises", ".boom"))
    path = tmp_path / "report.boom"
    path.write_text("the previous report")
    with pytest.raises(RuntimeError, match="renderer bug"):
        write(REPORT, "boom", path)
    assert path.read_text() == "the previous report" and os.listdir(tmp_path) == ["report.boom"]


def test_a_failing_write_leaves_no_partial_file_and_the_report_reaches_stdout(tmp_path, monkeypatch, capsys):
    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_module.os, "replace", full)
    path = tmp_path / "report.json"
    path.write_text("the previous report")
    write(REPORT, "json", path)
    assert path.read_text() == "the previous report" and os.listdir(tmp_path) == ["report.json"]
    out, err = capsys.readouterr()
    assert out == render(REPORT, "json")
    assert err == f"traindoctor: could not write the report to {path} (No space left on device); writing it to stdout instead\n"


def test_a_binary_format_is_written_as_bytes(tmp_path, monkeypatch, capsysbinary):
    monkeypatch.setitem(RENDERERS, "raw", Renderer(lambda report, options: b"\x89PNG\x00", "bytes", ".raw", binary=True))
    write(REPORT, "raw", tmp_path / "r.raw")
    assert (tmp_path / "r.raw").read_bytes() == b"\x89PNG\x00"
    write(REPORT, "raw", None)
    assert capsysbinary.readouterr().out == b"\x89PNG\x00"


def test_replacing_keeps_the_permissions_and_a_symlink_stays_one(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")
    path.chmod(0o640)
    write(REPORT, "json", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.read_text() == render(REPORT, "json")
    link = tmp_path / "latest.json"
    link.symlink_to(path)
    write(Report("run y", []), "json", link)
    assert link.is_symlink() and '"command": "run y"' in path.read_text()


def test_save_json_is_the_json_format(tmp_path):
    save_json(REPORT, tmp_path / "report.json")
    assert (tmp_path / "report.json").read_text() == render(REPORT, "json")
    assert os.listdir(tmp_path) == ["report.json"]


def test_paths_are_checked_before_anything_runs(tmp_path):
    assert output_problem(tmp_path / "report.html") is None
    assert "is a directory; give a file name" in output_problem(tmp_path)
    assert "does not exist" in output_problem(tmp_path / "missing" / "report.html")
    (tmp_path / "file").write_text("")
    assert folder_problem(tmp_path / "plots") is None and folder_problem(tmp_path) is None
    assert folder_problem(tmp_path / "file") == f"{tmp_path / 'file'} is a file; give a directory"
    assert "is a file, not a directory" in folder_problem(tmp_path / "file" / "plots")
