"""Lightning and Hugging Face Trainer scripts run under `traindoctor run` with the same detections."""
import math

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


# ── the callbacks with a log_dir, default Monitor settings, a NaN injected at step 20 ─────────────
def report_cli(log_dir):
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "traindoctor", "report", str(log_dir), "--format", "json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    return done.returncode, json.loads(done.stdout)


def test_lightning_callback_finds_a_nan_batch_at_its_step(lightning, tmp_path):
    import warnings

    import torch
    import torch.nn.functional as F
    from torch import nn

    from traindoctor.integrations.lightning import TrainDoctorCallback
    from traindoctor.monitor.sinks import read_jsonl

    class Module(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))

        def training_step(self, batch, _):  # calls the submodule: the LightningModule's forward never runs
            return F.cross_entropy(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(60 * 16, 10, generator=g), torch.randint(0, 4, (60 * 16,), generator=g)
    x[20 * 16 + 3, 5] = float("nan")  # in the 21st batch: optimizer step 20
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    torch.manual_seed(0)
    cb = TrainDoctorCallback(str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lightning.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                          enable_model_summary=False, callbacks=[cb]).fit(Module(), loader)
    f = cb.report.findings[0]
    assert (f.code, f.location["step"], f.location["tensor"]) == ("nonfinite-input", 20, "batch[0]")
    assert list(f.evidence["nonfinite_inputs"]) == ["batch[0]"] and f.evidence["inputs_checked"] == 2
    records = read_jsonl(tmp_path / "monitor.jsonl")
    assert len(records) == 60 and records[0]["grad_norm"] > 0  # this step's gradients, not the previous step's
    assert all(r["loss"] > 0 for r in records[:20]) and math.isnan(records[20]["loss"])
    code, data = report_cli(tmp_path)
    assert code == 1 and data["findings"][0]["code"] == "nonfinite-input"


def test_hf_callback_finds_a_nan_forward_at_its_step(transformers, tmp_path):
    import torch

    from traindoctor.integrations.hf import TrainDoctorCallback

    class Counting(torch.utils.data.Dataset):
        def __len__(self):
            return 22 * 2

        def __getitem__(self, i):
            ids = (torch.arange(16) + i) % 32
            return {"input_ids": ids, "labels": ids.clone()}

    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=32, n_positions=16, n_embd=32, n_layer=1,
                                                                 n_head=2))
    forwards = []

    def poison(module, inputs, output):  # the block's output turns NaN at the 21st training forward (step 20)
        if module.training:
            forwards.append(1)
            if len(forwards) == 21:
                return (output[0] * float("nan"),) + tuple(output[1:]) if isinstance(output, tuple) else output * float("nan")
    model.transformer.h[0].register_forward_hook(poison)
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, num_train_epochs=1,
                                          learning_rate=1e-3, logging_steps=500, save_strategy="no", report_to=[],
                                          use_cpu=True, disable_tqdm=True)
    cb = TrainDoctorCallback(str(tmp_path / "mon"))
    transformers.Trainer(model=model, args=args, train_dataset=Counting(), callbacks=[cb]).train()
    f = cb.report.findings[0]
    assert (f.code, f.location["step"]) == ("nonfinite-forward", 20) and "output was already non-finite" in f.observation
    code, data = report_cli(tmp_path / "mon")
    assert code == 1 and data["findings"][0]["code"] == "nonfinite-forward"


def test_hf_callback_leaves_no_hook_behind_a_crashed_training(transformers, tmp_path):
    """A training that raised never reaches on_train_end: the next train() closes the crashed run's
    monitor (its report is written, its hooks removed) instead of stacking hooks on the model; once
    the monitor is closed, the callback's forward hook removes itself."""
    import types
    import warnings

    import torch
    from torch import nn

    from traindoctor.integrations.hf import TrainDoctorCallback

    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    state = types.SimpleNamespace(is_world_process_zero=True)
    cb = TrainDoctorCallback(str(tmp_path))
    cb.on_train_begin(None, state, None, model=model, optimizer=opt)
    hooks = len(model._forward_hooks) + len(model._forward_pre_hooks) + len(opt._optimizer_step_pre_hooks)
    model(torch.randn(3, 4)).sum().backward()
    opt.step()  # then the training raises: no on_train_end
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the earlier run's log is moved aside, with a warning
        cb.on_train_begin(None, state, None, model=model, optimizer=opt)
    assert len(model._forward_hooks) + len(model._forward_pre_hooks) + len(opt._optimizer_step_pre_hooks) == hooks
    assert cb.report is not None and (tmp_path / "previous-1" / "report.json").is_file()
    cb.monitor.close()
    model(torch.randn(3, 4))
    assert not model._forward_hooks and not model._forward_pre_hooks and not opt._optimizer_step_pre_hooks
