"""The command line: exit codes, formats, argument passing, scripts that exit or guard __main__."""
import json
import subprocess
import sys
import textwrap

import jsonschema
import pytest

from conftest import EXAMPLES, ROOT
from traindoctor.render.json_report import schema

TRAIN = """
import sys, torch
print("argv", sys.argv[1:])
def main():
    torch.manual_seed(0)
    m = torch.nn.Linear(4, 2); o = torch.optim.SGD(m.parameters(), lr=0.1)
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    for _ in range(10):
        o.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); o.step()
    print("done")
if __name__ == "__main__":
    main()
    EXIT
"""


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "traindoctor", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def script(tmp_path, exit_stmt=""):
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(TRAIN.replace("EXIT", exit_stmt)))
    return path


def test_healthy_exit_0_and_args_reach_the_script(tmp_path):
    done = cli("run", script(tmp_path), "--lr", "3e-4", "--format", "x")
    assert done.returncode == 0, done.stderr
    assert "argv ['--lr', '3e-4', '--format', 'x']" in done.stdout and "done" in done.stdout
    assert "no problem found" in done.stdout


def test_broken_exit_1_and_json_stays_parseable():
    done = cli("run", "--format", "json", EXAMPLES / "broken_double_softmax.py")
    assert done.returncode == 1
    data = json.loads(done.stdout)  # the script's own prints went to stderr
    jsonschema.validate(data, schema())
    assert data["summary"]["root_cause"] == "double-softmax" and "epoch 0" in done.stderr


def test_markdown_to_file(tmp_path):
    out = tmp_path / "report.md"
    done = cli("run", "--format", "markdown", "--output", out, EXAMPLES / "broken_nan_input.py")
    assert done.returncode == 1
    assert out.read_text().startswith("# traindoctor run") and "`nonfinite-input`" in out.read_text()


@pytest.mark.parametrize("stmt,code,header", [
    ("sys.exit(0)", 0, "ran to completion"),
    ("sys.exit(3)", 1, "the script exited with status 3"),
    ("sys.exit('config missing')", 1, "the script exited with status 1"),  # python prints the message, status 1
])
def test_script_calling_sys_exit(tmp_path, stmt, code, header):
    done = cli("run", script(tmp_path, stmt))
    assert done.returncode == code, done.stdout + done.stderr
    assert "done" in done.stdout
    assert header in next(line for line in done.stdout.splitlines() if line.startswith("traindoctor run"))
    if code:
        assert "script-error" in done.stdout and "exited with status" in done.stdout
    if "config" in stmt:
        assert "config missing" in done.stderr and "status config missing" not in done.stdout


def test_script_error_shows_user_traceback_only():
    done = cli("run", EXAMPLES / "broken_script_crash.py")
    assert done.returncode == 1
    assert "broken_script_crash.py\", line 18" in done.stdout
    assert "traindoctor/run.py" not in done.stdout and "runpy" not in done.stdout


def test_usage_errors_exit_2(tmp_path):
    missing = cli("run", tmp_path / "nope.py")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert cli("run", "--max-steps", "-1", EXAMPLES / "healthy_mlp.py").returncode == 2
    assert cli("run", "--format", "yaml", EXAMPLES / "healthy_mlp.py").returncode == 2


def test_max_steps_stops_the_script(tmp_path):
    done = cli("run", "--max-steps", "7", "--format", "json", EXAMPLES / "healthy_mlp.py")
    run = json.loads(done.stdout)["run"]
    assert run["stopped"] == "max-steps" and run["steps"] == 7 and len(run["steps_record"]) == 7


def test_script_relative_imports_and_cwd(tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 41\n")
    (tmp_path / "train.py").write_text("from helper import VALUE\nprint('value', VALUE + 1)\n")
    done = cli("run", "train.py", cwd=tmp_path)
    assert done.returncode == 2 and "value 42" in done.stdout  # it trains nothing: could not check


def test_help_teaches():
    done = cli("run", "--help")
    assert done.returncode == 0 and "--max-steps" in done.stdout and "Examples" in done.stdout


def test_stopping_mid_epoch_with_dataloader_workers_does_not_hang():
    done = cli("run", "--max-steps", "5", "--format", "json", EXAMPLES / "healthy_cnn.py")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["run"]["stopped"] == "max-steps"


def test_syntax_error_in_script_is_a_finding(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfor x in range(3)\n    print(x)\n")
    done = cli("run", bad)
    assert done.returncode == 1
    assert "script-error" in done.stdout and "SyntaxError" in done.stdout and "bad.py" in done.stdout


def test_user_tracebacks_of_run_and_checkup_show_the_chain_and_no_frame_of_ours(tmp_path):
    """One helper for both commands: chained exceptions were lost by run's traceback, and checkup's kept
    traindoctor's frames inside the user's calls."""
    script = tmp_path / "train.py"
    script.write_text("def load():\n    raise KeyError('lr')\ntry:\n    load()\n"
                      "except KeyError as e:\n    raise ValueError('bad config') from e\n")
    done = cli("run", "--format", "json", script)
    trace = json.loads(done.stdout)["findings"][0]["evidence"]["traceback"]
    assert "KeyError: 'lr'" in trace and "direct cause" in trace and "ValueError: bad config" in trace
    assert "/traindoctor/" not in trace and "line 6" in trace
    setup = tmp_path / "setup.py"
    setup.write_text("import torch\ndef make_setup(:\n    pass\n")
    done = cli("checkup", f"{setup}:make_setup")
    assert done.returncode == 2 and "SyntaxError" in done.stderr and "line 2" in done.stderr
    assert "runpy" not in done.stderr and "cli.py" not in done.stderr


def test_checkup_command_exit_codes_and_formats(tmp_path):
    healthy = cli("checkup", f"{EXAMPLES / 'healthy_mlp.py'}:make_setup", "--format", "json", "--plots", tmp_path)
    assert healthy.returncode == 0, healthy.stderr
    data = json.loads(healthy.stdout)
    jsonschema.validate(data, schema())
    assert data["checkup"]["model"] == "Sequential" and (tmp_path / "lr-range.png").exists()
    broken = tmp_path / "setup.py"
    broken.write_text("import torch\nfrom torch import nn\n"
                      "def make_setup():\n"
                      "    torch.manual_seed(0)\n"
                      "    model = nn.Sequential(nn.Linear(8, 4), nn.Softmax(dim=1))\n"
                      "    return dict(model=model, batch=(torch.randn(32, 8), torch.randint(0, 4, (32,))),\n"
                      "                loss_fn=nn.CrossEntropyLoss())\n")
    done = cli("checkup", broken, "--probe", "init-loss")
    assert done.returncode == 1 and "double-softmax" in done.stdout and "1 of 1 probes ran" in done.stdout


def test_checkup_usage_errors(tmp_path):
    assert cli("checkup", tmp_path / "missing.py").returncode == 2
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    done = cli("checkup", f"{empty}:make_setup")
    assert done.returncode == 2 and "defines no function make_setup" in done.stderr
    assert cli("checkup", f"{EXAMPLES / 'healthy_mlp.py'}", "--probe", "nope").returncode == 2


def test_lint_command(tmp_path):
    (tmp_path / "train.py").write_text("import torch.nn.functional as F\np = F.softmax(z, 1)\nl = F.cross_entropy(p, y)\n")
    done = cli("lint", tmp_path)
    assert done.returncode == 1 and "train.py:3:5: double-softmax" in done.stdout
    assert cli("lint", "--ignore", "double-softmax", tmp_path).returncode == 0
    sarif = cli("lint", "--format", "sarif", tmp_path)
    assert json.loads(sarif.stdout)["runs"][0]["results"][0]["ruleId"] == "double-softmax"
    assert cli("lint", EXAMPLES / "healthy_mlp.py").returncode == 0
    assert cli("lint", "--select", "no-such-code", tmp_path).returncode == 2
    (tmp_path / "broken.py").write_text("def f(:\n")
    done = cli("lint", tmp_path)  # an error found decides the status, as in every command; the unread file is still said
    assert done.returncode == 1 and "broken.py:1" in done.stderr and "double-softmax" in done.stdout
    assert f"COULD NOT CHECK: {tmp_path / 'broken.py'}:1" in done.stdout
    assert cli("lint", "--ignore", "double-softmax", tmp_path).returncode == 2  # nothing wrong found, a file unread


def test_lint_report_reaches_stdout_when_the_output_file_cannot_be_written(tmp_path):
    (tmp_path / "train.py").write_text("import torch.nn.functional as F\np = F.softmax(z, 1)\nl = F.cross_entropy(p, y)\n")
    done = cli("lint", "-f", "json", "-o", "/dev/full", tmp_path)  # passes the up-front check; the write fails (no space)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "could not write the report to /dev/full" in done.stderr
    assert json.loads(done.stdout)["findings"][0]["code"] == "double-softmax"


def test_the_output_files_suffix_names_the_format_unless_format_is_given(tmp_path):
    (tmp_path / "train.py").write_text("import torch.nn.functional as F\np = F.softmax(z, 1)\nl = F.cross_entropy(p, y)\n")
    assert cli("lint", "-o", tmp_path / "r.sarif", tmp_path / "train.py").returncode == 1
    assert json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"][0]["ruleId"] == "double-softmax"
    assert cli("lint", "-o", tmp_path / "r.json", "-f", "markdown", tmp_path / "train.py").returncode == 1
    assert (tmp_path / "r.json").read_text().startswith("# ")  # --format given wins
    assert cli("lint", "-o", tmp_path / "r.log", tmp_path / "train.py").returncode == 1
    assert "double-softmax" in (tmp_path / "r.log").read_text() and not (tmp_path / "r.log").read_text().startswith("{")


def test_output_to_dev_stdout_writes_through_the_pipe(tmp_path):
    """A path that is not a regular file is written in place: an atomic rename would replace the device."""
    (tmp_path / "train.py").write_text("import torch.nn.functional as F\np = F.softmax(z, 1)\nl = F.cross_entropy(p, y)\n")
    done = cli("lint", "-f", "json", "-o", "/dev/stdout", tmp_path)
    assert done.returncode == 1 and "report written to /dev/stdout" in done.stderr
    assert json.loads(done.stdout)["findings"][0]["code"] == "double-softmax"


def test_lint_of_a_folder_without_python_files_could_not_check(tmp_path):
    (tmp_path / "notes.txt").write_text("import torch\n")
    done = cli("lint", tmp_path)
    assert done.returncode == 2 and "no problem found" not in done.stdout
    assert f"COULD NOT CHECK: {tmp_path}: no .py or .ipynb file found" in done.stdout
    assert done.stderr == f"traindoctor: {tmp_path}: no .py or .ipynb file found; nothing linted\n"


def test_lint_reads_pyproject_config(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.traindoctor]\nignore = ["double-softmax"]\n')
    (tmp_path / "train.py").write_text("import torch.nn.functional as F\np = F.softmax(z, 1)\nl = F.cross_entropy(p, y)\n")
    assert cli("lint", "train.py", cwd=tmp_path).returncode == 0
    (tmp_path / "pyproject.toml").write_text("[tool.traindoctor\n")
    done = cli("lint", "train.py", cwd=tmp_path)
    assert done.returncode == 2 and "pyproject.toml" in done.stderr
