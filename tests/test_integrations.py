"""Lightning and Hugging Face Trainer scripts run under `traindoctor run` with the same detections."""
import pytest

from conftest import ROOT, codes, validate
from traindoctor import run_script

SCRIPTS = ROOT / "tests" / "scripts"


def variant(tmp_path, name, **replace):
    text = (SCRIPTS / name).read_text()
    for key, value in replace.items():
        text = text.replace(key, value)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def lightning():
    return pytest.importorskip("lightning")


def test_lightning_healthy(lightning, tmp_path):
    report = validate(run_script(variant(tmp_path, "lightning_classifier.py", HEAD="nn.Identity()"), max_steps=0))
    assert codes(report) == [], [f.observation for f in report.findings]
    run = report.sections["run"]
    assert run["stopped"] == "completed" and run["steps"] == 3 * 28
    rec = run["steps_record"]
    assert rec[0]["grad_norm"] > 0 and rec[-1]["lr"] == [pytest.approx(1e-3 * 0.25)]


def test_lightning_double_softmax(lightning, tmp_path):
    report = validate(run_script(variant(tmp_path, "lightning_classifier.py", HEAD="nn.Softmax(dim=1)"), max_steps=50))
    assert report.findings[0].code == "double-softmax"
    assert report.sections["run"]["stopped"] == "max-steps"


@pytest.fixture(scope="module")
def transformers():
    return pytest.importorskip("transformers")


def test_hf_trainer_healthy(transformers, tmp_path):
    script = variant(tmp_path, "hf_trainer_lm.py", LABELS="ids.clone()")
    report = validate(run_script(script, [str(tmp_path / "out")], max_steps=0))
    assert codes(report) == [], [f.observation for f in report.findings]
    assert report.sections["run"]["steps"] == 32


def test_hf_trainer_all_labels_masked(transformers, tmp_path):
    script = variant(tmp_path, "hf_trainer_lm.py", LABELS="torch.full_like(ids, -100)")
    report = validate(run_script(script, [str(tmp_path / "out")], max_steps=10))
    assert report.findings[0].code == "labels-all-ignored"
