"""The Monitor: online rules (broken and healthy), sinks, self-protection, do-no-harm, callbacks."""
import json
import math
import statistics
import warnings

import jsonschema
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import ROOT, codes, validate
from traindoctor import Monitor
from traindoctor.monitor import TrainingAlarm, load_run
from traindoctor.judge.steps import StepRules
from traindoctor.monitor.sinks import read_jsonl
from traindoctor.measure.activations import ActivationTap
from traindoctor.render.json_report import schema


def data(n=512):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 10, generator=g)
    return x, (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()


def train(model=None, steps=120, lr=1e-3, monitor_kw=None, loss_scale=lambda i: 1.0, opt_cls=torch.optim.Adam,
          val=None, clip=None):
    torch.manual_seed(0)
    x, y = data()
    model = model or nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = opt_cls(model.parameters(), lr=lr)
    losses = []
    mon = Monitor(model, opt, **(monitor_kw or {})) if monitor_kw is not None else None
    for i in range(steps):
        xb, yb = x[(i * 32) % 512:(i * 32) % 512 + 32], y[(i * 32) % 512:(i * 32) % 512 + 32]
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb) * loss_scale(i)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        if mon:
            mon.log(loss=loss, **({"val_loss": val(i)} if val and val(i) is not None else {}))
        opt.step()
        losses.append(loss.item())
    report = validate(mon.close()) if mon else None
    return losses, report


def test_healthy_run_is_silent_and_recorded(tmp_path):
    _, report = train(monitor_kw={"log_dir": tmp_path, "sinks": ("jsonl", "csv"), "sync_every": 16})
    assert codes(report) == []
    records = read_jsonl(tmp_path / "monitor.jsonl")
    assert len(records) == 120 and records[0]["loss"] > 0 and records[0]["grad_norm"] > 0
    assert sum("update_ratio" in r for r in records) == 12 and "steps_per_second" in records[1]
    assert (tmp_path / "monitor.csv").read_text().splitlines()[0].startswith("step,grad_norm,lr/0,loss")
    jsonschema.validate(json.loads((tmp_path / "report.json").read_text()), schema())


def test_monitor_does_not_change_the_losses():
    plain, _ = train()
    watched, _ = train(monitor_kw={})
    assert plain == watched


def test_nonfinite_loss_names_the_module_and_keeps_the_flight_recorder():
    class Log(nn.Module):
        def forward(self, x):
            return torch.log(x)
    model = nn.Sequential(nn.Linear(10, 8), Log(), nn.Linear(8, 4))
    _, report = train(model, steps=5, monitor_kw={"sync_every": 1})
    f = report.findings[0]  # one event, one finding: the NaN loss, localised to the log of negative values
    assert [g.code for g in report.findings].count("nonfinite-forward") == 1
    assert f.code == "nonfinite-forward" and f.location["module"] == "1" and "`log`" in f.observation
    assert f.evidence["function"]["name"] == "log" and "flight_recorder" in f.evidence


@pytest.mark.parametrize("mode", ["warn", "raise"])
def test_on_error_modes(mode):
    class Log(nn.Module):
        def forward(self, x):
            return torch.log(x)
    model = nn.Sequential(nn.Linear(10, 8), Log(), nn.Linear(8, 4))
    if mode == "raise":
        with pytest.raises(TrainingAlarm, match="nonfinite-forward"):
            train(model, steps=5, monitor_kw={"sync_every": 1, "on_error": "raise"})
    else:
        with pytest.warns(RuntimeWarning, match="nonfinite-forward"):
            train(model, steps=5, monitor_kw={"sync_every": 1, "on_error": "warn"})


def test_exploding_gradients_judged_before_clipping():
    _, report = train(steps=60, loss_scale=lambda i: 1.3 ** i, clip=1.0, monitor_kw={})
    assert "exploding-gradients" in codes(report)
    _, healthy = train(steps=60, clip=1.0, monitor_kw={})
    assert codes(healthy) == []


def test_sampled_steps_carry_per_module_norms_and_activations():
    _, report = train(monitor_kw={"sync_every": 7})
    records = report.sections["monitor"]["flight_recorder"]
    sampled = [r for r in records if "param_norm" in r]
    assert [r["step"] for r in sampled] == list(range(0, 120, 10))
    for r in sampled:
        assert set(r["grad_norm_by_module"]) == {"0", "2"} == set(r["param_norm_by_module"])
        assert math.hypot(*r["grad_norm_by_module"].values()) == pytest.approx(r["grad_norm"], rel=1e-5)
        assert 0 <= r["dead_fraction"]["1"] < 0.5 and r["param_norm"] > 0
    assert not any("dead_fraction" in r for r in records if r not in sampled)


def test_update_ratio_measures_one_update_when_not_every_step_is_monitored():
    def ratios(every):
        _, report = train(steps=40, monitor_kw={"every": every, "sample_every": 4})
        return [r["update_ratio"] for r in report.sections["monitor"]["flight_recorder"] if "update_ratio" in r]
    every_step, every_other = ratios(1), ratios(2)
    assert len(every_other) >= 9 and every_other == pytest.approx(every_step[:len(every_other)], rel=1e-4)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_sampled_update_ratio_samples_every_column(optimizer):
    """A layer whose columns (input features of uneven scale) are updated unevenly, and a stride
    (312) sharing factors with its rows (256): a sample visiting every 8th column was 10% off."""
    from traindoctor.measure.steps import UpdateSampler
    torch.manual_seed(0)
    model = nn.Linear(256, 5000)
    scale = torch.randn(256).exp()
    params = list(model.parameters())
    opt = torch.optim.Adam(params, 1e-3) if optimizer == "adam" else torch.optim.SGD(params, 0.05, momentum=0.9)
    sampler = UpdateSampler()
    for _ in range(5):
        opt.zero_grad()
        model(torch.randn(64, 256) * scale).pow(2).mean().backward()
        full, sample = [p.detach().clone() for p in params], sampler.before(params)
        opt.step()
        delta = torch.stack(torch._foreach_norm(torch._foreach_sub([p.detach() for p in params], full))).norm()
        assert float(sampler.ratio(sample)) == pytest.approx(float(delta / torch.stack(torch._foreach_norm(full)).norm()), rel=0.05)


def test_dead_relu():
    def dead_model():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
        with torch.no_grad():
            model[0].bias.fill_(-20.0)  # no unit ever fires: the first layer gets no gradient
        return model
    _, report = train(model=dead_model(), monitor_kw={})
    f = report.findings[0]
    assert f.code == "dead-relu" and f.location["module"] == "1" and f.location["step"] == 20
    _, healthy = train(monitor_kw={})
    assert codes(healthy) == []


def test_saturated_activations_but_not_a_sigmoid_output_layer():
    def tanh_model(scale):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4))
        with torch.no_grad():
            model[0].weight.mul_(scale)
        return model
    _, report = train(model=tanh_model(100.0), monitor_kw={})
    assert "saturated-activations" in codes(report)
    _, healthy = train(model=tanh_model(1.0), monitor_kw={})
    assert codes(healthy) == []
    head = nn.Sequential(nn.Linear(10, 8), nn.Sigmoid(), nn.Linear(8, 1), nn.Sigmoid())
    with torch.no_grad():
        head[2].weight.fill_(100.0)  # confident outputs sit at the bounds by design
    tap = ActivationTap(head)
    tap.arm()
    head(torch.randn(16, 10))
    assert set(tap.disarm()) == {"1"}


def test_tensorboard_wandb_mlflow_sinks(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    wandb = pytest.importorskip("wandb")
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())  # not set_tracking_uri: global for later tests
    train(steps=30, monitor_kw={"log_dir": tmp_path, "sinks": ("jsonl", "tensorboard", "wandb", "mlflow")})
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [e.step for e in events.Scalars("traindoctor/loss")] == list(range(30))
    assert "traindoctor/grad_norm_by_module/0" in events.Tags()["scalars"]
    client = mlflow.tracking.MlflowClient()
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(client.get_metric_history(run.info.run_id, "traindoctor/loss")) == 30
    assert mlflow.active_run() is None and wandb.run is None  # runs the sinks opened are closed
    (offline,) = (tmp_path / "wandb").glob("offline-run-*/run-*.wandb")
    assert b"traindoctor/loss" in offline.read_bytes()
    with pytest.raises(ValueError, match="log_dir"):
        Monitor(nn.Linear(2, 2), torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), sinks=("csv",))


def test_update_ratio_rules():
    _, high = train(steps=120, lr=5.0, opt_cls=torch.optim.SGD, monitor_kw={})
    assert "lr-too-high" in codes(high) or "loss-divergence" in codes(high)
    _, low = train(steps=120, lr=1e-9, monitor_kw={})
    assert codes(low) == ["lr-too-low"]


def test_overfitting_needs_a_rising_validation_loss():
    rising = train(steps=100, val=lambda i: (1.0 + i / 100) if i % 20 == 19 else None, monitor_kw={})[1]
    assert codes(rising) == ["overfitting"]
    falling = train(steps=100, val=lambda i: (2.0 - i / 100) if i % 20 == 19 else None, monitor_kw={})[1]
    assert codes(falling) == []


def test_spikes_and_plateau_rules():
    rules = StepRules("monitor", window=50)
    noisy = [1.0 + 0.05 * ((i * 7919) % 13 - 6) / 6 for i in range(300)]
    found = [f.code for i, v in enumerate(noisy) for f in rules.observe({"step": i, "loss": v * (1 - i / 400)})]
    assert found == []
    rules = StepRules("monitor", window=50)
    spiky = [f.code for i in range(100) for f in rules.observe({"step": i, "loss": 9.0 if i == 80 else 1.0 - i / 1000})]
    assert spiky == ["loss-spikes"]
    rules = StepRules("monitor", window=50)
    flat = [f.code for i in range(101) for f in rules.observe({"step": i, "loss": 2.3 + 0.01 * (i % 3)})]
    assert flat == ["loss-plateau"]


def test_heavy_tailed_losses_near_convergence_are_not_spikes():
    """A real classifier trained to a loss near 0.001: single minibatches reach 7x the running median
    without undoing any progress. A jump that undoes the progress is a spike."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 5))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=1500)
    x = torch.randn(2048, 20)
    y = x[:, :5].argmax(1)
    with Monitor(model, opt) as monitor:
        for _ in range(1500):
            i = torch.randint(0, 2048, (64,))
            loss = F.cross_entropy(model(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            monitor.log(loss=loss)
            opt.step()
            sched.step()
    report = monitor.report()
    losses = [r["loss"] for r in report.sections["monitor"]["history"]["steps"]]  # every 2nd step
    jumps = [v / statistics.median(losses[i - 25:i]) for i, v in enumerate(losses) if i >= 25]
    assert max(jumps) > 2  # the tail is really there: a 1.5x relative rule would fire
    assert codes(report) == []
    rules = StepRules("monitor", window=50)
    lm = [f.code for i in range(200) for f in rules.observe({"step": i, "loss": 10.0 if i == 150 else 3.0 + 7.0 * 0.97 ** i})]
    assert lm == ["loss-spikes"]  # 3.0 -> 10.0 undoes the whole progress


def test_internal_error_disables_the_monitor_and_training_goes_on(monkeypatch):
    def boom(self):
        raise ValueError("injected fault")
    monkeypatch.setattr(Monitor, "_collect", boom)
    with pytest.warns(RuntimeWarning, match="disabled itself"):
        losses, report = train(steps=40, monitor_kw={"sync_every": 4})
    assert len(losses) == 40 and report.sections["monitor"]["disabled"].startswith("ValueError")
    assert "injected fault" in report.unchecked[0] and report.exit_code == 2


def test_jsonl_survives_a_killed_process(tmp_path):
    train(steps=20, monitor_kw={"log_dir": tmp_path, "sync_every": 5})
    path = tmp_path / "monitor.jsonl"
    path.write_text(path.read_text() + '{"step": 20, "loss": 0.5, "grad')  # a write cut short
    assert len(read_jsonl(path)) == 20


def test_report_command_renders_a_recorded_run(tmp_path):
    import subprocess
    import sys
    _, _ = train(steps=120, lr=1e-9, monitor_kw={"log_dir": tmp_path})
    done = subprocess.run([sys.executable, "-m", "traindoctor", "report", str(tmp_path), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and json.loads(done.stdout)["findings"][0]["code"] == "lr-too-low"
    (tmp_path / "report.json").unlink()
    assert load_run(tmp_path).findings[0].code == "lr-too-low"  # rebuilt from the JSONL alone
    missing = subprocess.run([sys.executable, "-m", "traindoctor", "report", str(tmp_path / "nope")],
                             capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2 and "no such directory" in missing.stderr


def test_lightning_callback(tmp_path):
    L = pytest.importorskip("lightning")
    from traindoctor.integrations.lightning import TrainDoctorCallback

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))

        def training_step(self, batch, _):
            return F.cross_entropy(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    x, y = data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    cb = TrainDoctorCallback(str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                  enable_model_summary=False, callbacks=[cb]).fit(Module(), loader)
    assert codes(cb.report) == [] and cb.report.sections["monitor"]["steps"] == 32
    records = read_jsonl(tmp_path / "monitor.jsonl")
    assert len(records) == 32 and all("loss" in r for r in records)


def test_hf_callback(tmp_path):
    transformers = pytest.importorskip("transformers")
    from traindoctor.integrations.hf import TrainDoctorCallback

    class Counting(torch.utils.data.Dataset):
        def __len__(self):
            return 64

        def __getitem__(self, i):
            ids = (torch.arange(16) + i) % 32
            return {"input_ids": ids, "labels": ids.clone()}

    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=32, n_positions=16, n_embd=32, n_layer=1, n_head=2))
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "out"), per_device_train_batch_size=16, num_train_epochs=2,
                                          learning_rate=3e-3, logging_steps=2, save_strategy="no", report_to=[],
                                          use_cpu=True, disable_tqdm=True)
    cb = TrainDoctorCallback(str(tmp_path / "mon"))
    transformers.Trainer(model=model, args=args, train_dataset=Counting(), callbacks=[cb]).train()
    assert codes(cb.report) == [] and cb.report.sections["monitor"]["steps"] == 8
    records = read_jsonl(tmp_path / "mon" / "monitor.jsonl")
    assert len(records) == 8 and "grad_norm_before_clip" in records[0] and any("loss" in r for r in records)


def test_history_is_bounded_and_evenly_spaced():
    from traindoctor.monitor.history import Thinned

    thin = Thinned(size=100)
    for step in range(10_000):
        thin.add(step)
    gaps = {b - a for a, b in zip(thin.items, thin.items[1:])}
    assert 50 <= len(thin.items) <= 100 and thin.items[0] == 0 and len(gaps) == 1


def test_dead_units_are_read_along_the_right_dimension():
    from traindoctor.measure.activations import unit_stat

    torch.manual_seed(0)
    relu = nn.ReLU()
    seq = relu(torch.randn(8, 16, 32))          # (batch, positions, features)
    seq[..., :8] = 0                            # a quarter of the features never fire
    conv1d = relu(torch.randn(8, 32, 16))       # (batch, channels, length)
    conv1d[:, :16] = 0
    image = relu(torch.randn(4, 8, 5, 5))
    image[:, :2] = 0
    stats = [unit_stat(relu, t)[1].item() for t in (seq, conv1d, image, relu(torch.randn(64, 10)))]
    assert stats == [0.25, 0.5, 0.25, 0.0]
    tanh = nn.Tanh()
    assert unit_stat(tanh, torch.tensor([[0.99, -0.995, 0.5, 0.0]]))[1].item() == 0.5


def test_a_param_group_added_mid_sync_keeps_each_steps_norms():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model[0].parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    expected = []
    with Monitor(model, opt, sync_every=10, sample_every=1) as monitor:
        for step in range(6):
            if step == 3:  # e.g. unfreezing the head
                opt.add_param_group({"params": model[2].parameters()})
            opt.zero_grad()
            F.mse_loss(model(x), y).backward()
            grads = [p.grad for g in opt.param_groups for p in g["params"]]
            expected.append(math.sqrt(sum(float(g.norm()) ** 2 for g in grads)))
            opt.step()
    records = monitor.report().sections["monitor"]["flight_recorder"]
    assert [r["grad_norm"] for r in records] == pytest.approx(expected, rel=1e-5)
    assert set(records[0]["grad_norm_by_module"]) == {"0"} and set(records[-1]["grad_norm_by_module"]) == {"0", "2"}


def test_log_never_raises_and_records_what_is_a_number(tmp_path):
    import numpy as np

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Monitor(model, opt, log_dir=tmp_path, sync_every=3) as mon:
            for i in range(7):
                opt.zero_grad()
                loss = F.mse_loss(model(torch.randn(8, 4)), torch.randn(8, 2))
                loss.backward()
                mon.log(loss=loss, text="abc", nothing=None, count=3, flag=True, np32=np.float32(0.5),
                        np0d=np.array(2.0), one=torch.tensor([1.5]), vec=torch.ones(3), step=99)
                opt.step()
                mon.log_last(after=float(i), note="done", none=None)  # after step 2 and 5: already synced
    ours = sorted(str(w.message).split("(")[1].split("=")[0] for w in caught if "Monitor.log(" in str(w.message))
    assert ours == ["note", "step", "text", "vec"]  # one warning per key, naming it
    records = read_jsonl(tmp_path / "monitor.jsonl")
    assert [r["step"] for r in records] == list(range(7)) and [r["after"] for r in records] == [float(i) for i in range(7)]
    r = records[0]
    assert (r["count"], r["flag"], r["np32"], r["np0d"], r["one"]) == (3.0, 1.0, 0.5, 2.0, 1.5) and r["loss"] > 0
    assert not {"text", "nothing", "vec", "note", "none"} & set(r)
    assert [r["after"] for r in mon.report().sections["monitor"]["flight_recorder"]] == [float(i) for i in range(7)]


def test_the_monitor_consumes_no_rng_stream(tmp_path):
    """A monitored loop leaves torch, numpy and Python `random` where the same loop unmonitored does,
    with a NaN whose batch is replayed through dropout and the report written on close; in a fresh
    interpreter, so the monitor's first-use imports count."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "tests" / "scripts" / "monitor_rng.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == {"torch": True, "numpy": True, "random": True,
                                                        "replayed_module": "3"}


def test_finiteness_probe_is_exact_across_dtypes_and_huge_finite_values():
    from traindoctor.measure.stats import finiteness_probe

    def finite(t):
        return all(math.isfinite(v) for v in torch.stack([v.double() for v in finiteness_probe(t)]).tolist()) \
            if t.numel() else True
    broken = []
    for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        for bad in (float("nan"), float("inf"), -float("inf")):
            t = torch.randn(4, 3, 5).to(dtype)
            t[2, 1, 3] = bad
            broken.append(finite(t))
    z = torch.randn(8, 2, dtype=torch.complex64)
    z[3, 1] = complex(0, float("nan"))
    assert not any(broken) and not finite(z)
    healthy = [torch.full((10_000,), 3e38), torch.full((64, 64), 65504.0, dtype=torch.float16),  # sums would overflow
               torch.full((5,), 1e300, dtype=torch.float64), torch.randn(3, 4, 5, 6), torch.empty(0, 3),
               torch.randn(8, 2, dtype=torch.complex64)]
    assert all(finite(t) for t in healthy)


@pytest.mark.parametrize("sync_every", [50, 1])
def test_steps_per_second_on_every_record_after_the_first(tmp_path, sync_every):
    """The rate is measured from the previous step, also across a sync (the first step of each sync
    had none; with sync_every=1, no step had one)."""
    train(steps=60, monitor_kw={"log_dir": tmp_path, "sync_every": sync_every})
    rates = [r.get("steps_per_second") for r in read_jsonl(tmp_path / "monitor.jsonl")]
    assert len(rates) == 60 and rates[0] is None and all(r > 0 for r in rates[1:])


def test_a_report_json_that_cannot_be_written_leaves_no_temporary_file(tmp_path, monkeypatch):
    import os

    def full(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", full)
    with pytest.warns(RuntimeWarning, match="could not write .*report.json"):
        train(steps=5, monitor_kw={"log_dir": tmp_path})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["monitor.jsonl"]


@pytest.mark.parametrize("sync_every", [50, 1])
def test_values_logged_after_a_synced_step_are_judged_with_it(tmp_path, sync_every):
    """A validation loss given to log_last() after the step that ended a sync (every evaluation, with
    Lightning's sync_every=1) is judged with that step's training loss, live as when read back."""
    torch.manual_seed(0)
    x, y = data()
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with Monitor(model, opt, log_dir=tmp_path, sync_every=sync_every) as mon:
        for i in range(200):
            xb, yb = x[(i * 32) % 512:(i * 32) % 512 + 32], y[(i * 32) % 512:(i * 32) % 512 + 32]
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            mon.log(loss=loss)
            opt.step()
            if i % 50 == 49:  # the steps that end a sync at the default sync_every
                mon.log_last(val_loss=torch.tensor(1.0 + i / 100))
    live = mon.report()
    assert codes(live) == ["overfitting"] and live.findings[0].location["step"] == 199
    steps = [r["step"] for r in live.sections["monitor"]["history"]["steps"]]
    assert steps == sorted(set(steps)) and len(steps) == 200
    (tmp_path / "report.json").unlink()
    rebuilt = load_run(tmp_path)
    assert codes(rebuilt) == ["overfitting"] and rebuilt.findings[0].location["step"] == 199
    records = read_jsonl(tmp_path / "monitor.jsonl")
    assert [r["step"] for r in records if "val_loss" in r] == [49, 99, 149, 199] and all("loss" in r for r in records)


def test_a_loss_logged_after_its_step_is_attributed_with_it():
    """Lightning's manual optimization logs the loss after optimizer.step(): a NaN loss then reaches the
    non-finite rule with that step, and the report says why its batch was not replayed."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, opt, sync_every=1) as mon:
        for i in range(10):
            opt.zero_grad()
            loss = F.mse_loss(model(torch.randn(8, 4)), torch.randn(8, 2))
            loss.backward()
            opt.step()
            mon.log_last(loss=loss * float("nan") if i == 6 else loss)
    f = mon.report().findings[0]
    assert (f.code, f.location["step"]) == ("nonfinite-forward", 6)
    assert "logged after its step" in f.evidence["replay"]["skipped"]


def test_check_batch_names_the_batch_once_and_counts_its_values(tmp_path):
    """A batch given to check_batch() (as the Lightning callback does) is checked under its own names, and
    the model's forward of that step is not checked again under other names; the NaN counts in the
    report come from that batch."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    with Monitor(model, opt, log_dir=tmp_path) as mon:
        for i in range(60):
            x, y = torch.randn(32, 10, generator=g), torch.randint(0, 4, (32,), generator=g)
            if i == 49:  # the sync step: the batch is still held when the statistics are read
                x[3, 5] = float("nan")
            mon.check_batch((x, y))
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            mon.log(loss=loss)
            opt.step()
    f = mon.report().findings[0]
    assert (f.code, f.location["step"], f.location["tensor"]) == ("nonfinite-input", 49, "batch[0]")
    assert list(f.evidence["nonfinite_inputs"]) == ["batch[0]"] and f.evidence["inputs_checked"] == 2
    assert f.evidence["nonfinite_inputs"]["batch[0]"]["columns"] == [5]


def test_an_alarm_on_the_held_record_still_leaves_every_step_judged(tmp_path):
    """on_error="raise" with the NaN at a step that ended a sync: the alarm comes when the next step
    starts, and closing the monitor afterwards still judges and writes the steps after it."""
    class Log(nn.Module):
        def forward(self, x):
            return torch.log(x)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 8), Log(), nn.Linear(8, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # the NaN from the first step on
    mon = Monitor(model, opt, log_dir=tmp_path, sync_every=1, on_error="raise")
    with pytest.raises(TrainingAlarm, match="nonfinite-forward"):
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(torch.rand(4, 10)), torch.zeros(4, dtype=torch.long))
            loss.backward()
            mon.log(loss=loss)
            opt.step()
    mon.close()
    assert [r["step"] for r in mon.report().sections["monitor"]["flight_recorder"]] == [0, 1]
    assert len(read_jsonl(tmp_path / "monitor.jsonl")) == 2


def test_the_log_states_the_optimizers_kind_for_a_rebuilt_report(tmp_path):
    train(steps=20, opt_cls=torch.optim.SGD, monitor_kw={"log_dir": tmp_path})
    assert read_jsonl(tmp_path / "monitor.jsonl")[0]["second_moment"] is False
    train(steps=20, monitor_kw={"log_dir": tmp_path / "adam"})
    assert read_jsonl(tmp_path / "adam" / "monitor.jsonl")[0]["second_moment"] is True
