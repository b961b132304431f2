"""The checkup battery: each probe on a broken model and on a healthy one; nothing of the caller's changes."""
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import EXAMPLES, codes, validate
from traindoctor import checkup
from traindoctor.cli import _load_setup
from traindoctor.diagnosis.battery import examine
from traindoctor.diagnosis.registry import Options
from traindoctor.diagnosis.setup import SetupError
from traindoctor.render.figures import figures, save_png


def data(n=64, d=20, classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g) * 2
    y = torch.randint(0, classes, (n,), generator=g)
    return centers[y] + torch.randn(n, d, generator=g), y


def mlp(*tail, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10), *tail)


def run(model, batch=None, loss_fn=nn.CrossEntropyLoss(), optimizer=None, probes=None, **kw):
    batch = batch if batch is not None else data()
    optimizer = optimizer or torch.optim.AdamW(model.parameters(), lr=1e-3)
    return validate(checkup(model, batch, loss_fn, optimizer, probes=probes, progress=False, **kw))


def probe(report, name):
    return next(p for p in report.sections["checkup"]["probes"] if p["name"] == name)


def test_healthy_mlp_passes_every_probe():
    report = run(mlp())
    assert codes(report) == []
    statuses = {p["name"]: p["status"] for p in report.sections["checkup"]["probes"]}
    assert "failed" not in statuses.values()
    init = probe(report, "init-loss")
    assert probe(report, "overfit")["passed"] and init["output_entropy"] > 0.9 * init["uniform_entropy"]


@pytest.mark.parametrize("name", ["healthy_mlp.py", "healthy_cnn.py", "healthy_causal_lm.py"])
def test_healthy_examples_pass_checkup(name):
    setup = _load_setup(f"{EXAMPLES / name}:make_setup")
    report = validate(checkup(**setup, progress=False))
    assert codes(report) == [], [f.observation for f in report.findings]
    assert all(p["status"] != "failed" for p in report.sections["checkup"]["probes"])
    # timing is reported per probe (docs/performance.md has the figures); nothing asserted on it
    assert all(p["seconds"] >= 0 for p in report.sections["checkup"]["probes"])


def test_nothing_of_the_caller_changes():
    model = nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    x, y = data()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    F.cross_entropy(model(x), y).backward()
    opt.step()  # the optimizer has state now
    torch.manual_seed(5); np.random.seed(5); random.seed(5)
    rng = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    params = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    opt_state = {k: {n: t.clone() for n, t in v.items()} for k, v in opt.state.items()}
    batch = (x.clone(), y.clone())
    run(model, (x, y), optimizer=opt)
    assert all(torch.equal(params[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, model.parameters()))
    assert all(torch.equal(opt_state[k][n], t) for k, v in opt.state.items() for n, t in v.items())
    assert model.training and torch.equal(x, batch[0]) and torch.equal(y, batch[1])
    assert torch.equal(rng[0], torch.get_rng_state()) and (rng[1] == np.random.get_state()[1]).all()
    assert rng[2] == random.getstate()


# ── batch sanity ──────────────────────────────────────────────────────────────

def test_batch_sanity():
    x, y = data()
    x[5, 2] = float("nan")
    assert codes(run(mlp(), (x, y), probes=("batch",))) == ["nonfinite-input"]
    x, y = data()
    x[:, 3] *= 1000
    r = run(mlp(), (x, y), probes=("batch",))
    assert codes(r) == ["unnormalized-inputs"] and r.findings[0].evidence["columns"] == [3]
    x, y = data()
    y[:60] = 0
    assert codes(run(mlp(), (x, y), probes=("batch",))) == ["class-imbalance"]
    healthy = run(mlp(), probes=("batch",))
    assert healthy.findings == [] and probe(healthy, "batch")["labels"]["classes_present"] == 10


# ── outputs ───────────────────────────────────────────────────────────────────

def test_init_loss_probe_reuses_the_loss_rules():
    big = mlp()
    nn.init.normal_(big[2].weight, std=20.0)
    assert codes(run(big, probes=("init-loss",))) == ["init-loss-mismatch"]
    soft = run(mlp(nn.Softmax(dim=1)), probes=("init-loss",))
    assert soft.findings[0].code == "double-softmax" and soft.findings[0].source == "checkup"
    assert run(mlp(), probes=("init-loss",)).findings == []


def test_constant_output():
    model = mlp()
    for p in model.parameters():
        nn.init.zeros_(p)
    assert codes(run(model, probes=("constant-output",))) == ["constant-output"]
    assert run(mlp(), probes=("constant-output",)).findings == []


def test_eval_determinism():
    class AlwaysDropout(nn.Module):
        def forward(self, x):
            return F.dropout(x, 0.5, training=True)
    assert codes(run(mlp(AlwaysDropout()), probes=("eval-determinism",))) == ["nondeterministic-eval"]
    assert run(mlp(nn.Dropout(0.5)), probes=("eval-determinism",)).findings == []


# ── gradients ─────────────────────────────────────────────────────────────────

class Detached(nn.Module):
    def __init__(self, detach):
        super().__init__()
        self.body, self.head, self.detach = nn.Linear(20, 64), nn.Linear(64, 10), detach

    def forward(self, x):
        h = torch.relu(self.body(x))
        return self.head(h.detach() if self.detach else h)


def test_gradient_flow_disconnected_and_vanishing():
    r = run(Detached(True), probes=("gradient-flow",))
    assert codes(r) == ["optimizer-params-unused"] and probe(r, "gradient-flow")["disconnected"] == ["body.weight", "body.bias"]
    torch.manual_seed(0)
    deep = nn.Sequential(*[m for _ in range(12) for m in (nn.Linear(20, 20), nn.Sigmoid())], nn.Linear(20, 10))
    assert codes(run(deep, probes=("gradient-flow",))) == ["vanishing-gradients"]
    assert run(Detached(False), probes=("gradient-flow",)).findings == []


def test_update_ratio():
    sgd = lambda lr: (lambda params: torch.optim.SGD(params, lr=lr))  # noqa: E731
    assert codes(run(mlp(), optimizer=sgd(50.0), probes=("update-ratio",))) == ["lr-too-high"]
    assert codes(run(mlp(), optimizer=sgd(1e-9), probes=("update-ratio",))) == ["lr-too-low"]
    healthy = run(mlp(), probes=("update-ratio",))
    assert healthy.findings == [] and 1e-4 < probe(healthy, "update-ratio")["median"] < 1e-1


class Square(torch.autograd.Function):
    WRONG = False

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x if Square.WRONG else g * 2 * x


class SquareNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 10)

    def forward(self, x):
        return Square.apply(self.fc(x))


def test_gradcheck_of_custom_functions(monkeypatch):
    monkeypatch.setattr(Square, "WRONG", True)
    r = run(SquareNet(), probes=("gradcheck",))
    assert codes(r) == ["bad-custom-gradient"] and "Square" in r.findings[0].observation
    monkeypatch.setattr(Square, "WRONG", False)
    healthy = run(SquareNet(), probes=("gradcheck",))
    assert healthy.findings == [] and probe(healthy, "gradcheck")["functions"][0]["passed"]
    assert probe(run(mlp(), probes=("gradcheck",)), "gradcheck")["status"] == "skipped"


# ── training: overfit, ablation, LR range ─────────────────────────────────────

class InputDropped(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 10)

    def forward(self, x):
        return self.fc(torch.zeros_like(x))  # a bug: the input never reaches the layer


def test_overfit_one_batch():
    r = run(InputDropped(), probes=("overfit",))
    f = r.findings[0]
    assert f.code == "cannot-overfit-batch" and f.evidence["final_loss"] > 0.2 * f.evidence["first_loss"]
    assert "fc" in f.evidence["grad_norm_by_module_at_stall"]
    healthy = run(mlp(), probes=("overfit",))
    assert healthy.findings == [] and probe(healthy, "overfit")["passed"]


def test_input_ablation_after_overfit():
    x, y = data()
    y[:] = 3  # every label the same: a model that never looks at its input still fits the batch
    r = run(InputDropped(), (x, y), probes=("overfit", "ablation"))
    assert codes(r) == ["input-ignored"]
    healthy = run(mlp(), probes=("overfit", "ablation"))
    assert healthy.findings == [] and probe(healthy, "ablation")["random"] > 10 * probe(healthy, "ablation")["real"]
    skipped = run(InputDropped(), probes=("overfit", "ablation"))
    assert probe(skipped, "ablation")["status"] == "skipped"


def test_lr_range(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(64, 20)
    regression = (x, x.sum(1, keepdim=True))
    model = nn.Linear(20, 1)
    high = run(model, regression, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=10.0), probes=("lr-range",))
    assert codes(high) == ["lr-too-high"]
    record = probe(high, "lr-range")
    assert record["diverged_at_lr"] <= 10.0
    [png] = save_png(figures(high), tmp_path)  # drawn from the report's own record of the probe
    assert png.name == "lr-range.png" and png.stat().st_size > 1000
    healthy = run(model, regression, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=1e-3), probes=("lr-range",))
    rec = probe(healthy, "lr-range")
    assert healthy.findings == [] and 1e-5 < rec["suggested_lr"] < rec["diverged_at_lr"] < 10.0


# ── independence and shapes ───────────────────────────────────────────────────

class Centered(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 10)

    def forward(self, x):
        h = self.fc(x)
        return h - h.mean(0)  # normalizes over the batch


def test_batch_independence():
    assert codes(run(Centered(), probes=("batch-independence",))) == ["batch-mixing"]
    assert run(mlp(), probes=("batch-independence",)).findings == []


class OwnLoss(nn.Module):
    """Hugging Face style: the batch's `labels` come first and go in, for the loss only."""
    def __init__(self, centered):
        super().__init__()
        self.fc, self.centered = nn.Linear(20, 10), centered

    def forward(self, labels, features):
        h = self.fc(features)
        self.loss = F.cross_entropy(h, labels)
        return h - h.mean(0) if self.centered else h


@pytest.mark.parametrize("centered", [True, False])
def test_batch_independence_perturbs_an_input_the_outputs_read(centered):
    x, y = data()
    report = run(OwnLoss(centered), ({"labels": y, "features": x}, y), probes=("batch-independence",))
    assert codes(report) == (["batch-mixing"] if centered else [])
    assert probe(report, "batch-independence")["input"] == "features"


class SeqLM(nn.Module):
    def __init__(self, causal):
        super().__init__()
        torch.manual_seed(0)
        self.causal, self.emb, self.head = causal, nn.Embedding(16, 32), nn.Linear(32, 16)
        self.attn = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, idx):
        h = self.emb(idx)
        T = idx.shape[1]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if self.causal else None
        return self.head(h + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0])


def lm_batch():
    seq = (torch.arange(17) + torch.randint(0, 16, (8, 1), generator=torch.Generator().manual_seed(0))) % 16
    return seq[:, :-1], seq[:, 1:]


def lm_loss(out, y):
    return F.cross_entropy(out.reshape(-1, 16), y.reshape(-1))


def test_causal_independence():
    leak = run(SeqLM(causal=False), lm_batch(), lm_loss, probes=("causal-independence",))
    assert codes(leak) == ["causal-leak"]
    ok = run(SeqLM(causal=True), lm_batch(), lm_loss, probes=("causal-independence",))
    assert ok.findings == [] and probe(ok, "causal-independence")["causal_expected"]
    x, _ = lm_batch()  # a bidirectional encoder on a non-next-token task: context, not a finding
    tagging = run(SeqLM(causal=False), (x, x % 2), lm_loss, probes=("causal-independence",))
    assert tagging.findings == [] and "bidirectional" in probe(tagging, "causal-independence")["note"]


class EncoderLM(nn.Module):
    """nn.TransformerEncoder, batch-first, with a boolean mask where True means masked: `diagonal` 1 masks the
    future (causal); 0 with tril masks the past and the present, so the last row masks every key — NaN there on
    the fused path an eval forward without gradients takes, numbers on the path training takes."""
    def __init__(self, causal):
        super().__init__()
        torch.manual_seed(0)
        self.causal, self.emb, self.head = causal, nn.Embedding(16, 32), nn.Linear(32, 16)
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, idx):
        ones = torch.ones(idx.shape[1], idx.shape[1], dtype=torch.bool)
        return self.head(self.enc(self.emb(idx), mask=ones.triu(1) if self.causal else ones.tril()))


def test_causal_independence_measures_the_training_path_not_the_fused_one():
    leak = run(EncoderLM(causal=False), lm_batch(), lm_loss, probes=("causal-independence",))
    assert codes(leak) == ["causal-leak"]
    assert torch.backends.mha.get_fastpath_enabled()  # turned off for the probes only
    ok = run(EncoderLM(causal=True), lm_batch(), lm_loss, probes=("causal-independence",))
    assert ok.findings == [] and probe(ok, "causal-independence")["causal_expected"]


class ConvLM(nn.Module):
    """Token ids in, (batch, vocab, positions) logits out, with as many positions as the vocabulary:
    the output's positions cannot be told from its shape."""
    def __init__(self, causal):
        super().__init__()
        torch.manual_seed(0)
        self.causal, self.emb = causal, nn.Embedding(16, 8)
        self.conv = nn.Conv1d(8, 16, 3)

    def forward(self, idx):
        h = self.emb(idx).transpose(1, 2)  # (B, E, T)
        return self.conv(F.pad(h, (2, 0) if self.causal else (1, 1)))


def test_causal_independence_on_channels_first_logits_as_long_as_the_vocabulary():
    x, y = lm_batch()  # T = 16 = the vocabulary
    leak = run(ConvLM(causal=False), (x, y), F.cross_entropy, probes=("causal-independence",))
    assert codes(leak) == ["causal-leak"]
    ok = run(ConvLM(causal=True), (x, y), F.cross_entropy, probes=("causal-independence",))
    assert ok.findings == [] and probe(ok, "causal-independence")["causal_expected"]


class FixedBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 10)

    def forward(self, x):
        return self.fc(x).view(64, 10)  # the batch size is hard-coded


def test_odd_batch_size():
    r = run(FixedBatch(), probes=("odd-batch",))
    assert codes(r) == ["batch-size-assumption"] and r.findings[0].evidence["batch"] == 7
    assert run(mlp(), probes=("odd-batch",)).findings == []


class HeldState(nn.Module):
    """A GRU whose hidden state is kept on `self`: sized by the batch the script last set it for."""

    def __init__(self):
        super().__init__()
        self.gru, self.fc, self.hidden = nn.GRU(20, 8, batch_first=True), nn.Linear(8, 10), torch.zeros(1, 64, 8)

    def forward(self, x):
        out, self.hidden = self.gru(x[:, None], self.hidden)
        return self.fc(out[:, -1])


def test_odd_batch_sets_afresh_the_state_the_script_sets_afresh():
    """Under run, state the script sets afresh before each batch (init_hidden(len(batch))) is set afresh for
    the odd batch; state nothing resets stays sized for the batch it was made for."""
    def odd(renewed):
        torch.manual_seed(0)
        return examine(HeldState(), data(), nn.CrossEntropyLoss(), probes=("odd-batch",),
                       options=Options(renewed=renewed))

    kept = odd(frozenset())
    assert [f.code for f in kept.findings] == ["batch-size-assumption"]
    afresh = odd(frozenset({("", "hidden")}))
    assert afresh.findings == [] and afresh.records[0]["renewed"] == ["hidden"]


class FixedSquare(FixedBatch):
    def forward(self, x):
        return self.fc(x).view(10, 10)


def test_a_model_that_breaks_on_half_the_batch_still_gets_the_per_sample_probes():
    """The output layout is read by running half the batch; a model with its batch size hard-coded fails
    there, and the per-sample probes skipped with "the output has no dimension holding the samples"."""
    r = run(FixedBatch(), probes=("constant-output", "batch-independence"))
    assert statuses(r) == {"constant-output": "ran", "batch-independence": "ran"} and r.findings == []
    square = run(FixedSquare(), data(n=10), probes=("constant-output",))  # (10, 10): which dim holds the samples?
    note = probe(square, "constant-output")["note"]
    assert "on 5 samples the model raised RuntimeError" in note and "dims [0, 1]" in note


# ── activations ───────────────────────────────────────────────────────────────

def test_dead_relu_and_saturation():
    dead = mlp()
    nn.init.constant_(dead[0].bias, -20.0)
    assert codes(run(dead, probes=("activations",))) == ["dead-relu"]
    torch.manual_seed(0)
    squashed = nn.Sequential(nn.Linear(20, 64), nn.Tanh(), nn.Linear(64, 10))
    nn.init.normal_(squashed[0].weight, std=5.0)
    assert codes(run(squashed, probes=("activations",))) == ["saturated-activations"]
    assert run(mlp(), probes=("activations",)).findings == []


def test_a_confident_output_sigmoid_is_not_saturation():
    """A discriminator's last Sigmoid near 0 and 1 feeds binary cross-entropy, whose gradient p - y does not
    vanish there: confident, judged by the loss. The same Sigmoid inside the model is saturation."""
    torch.manual_seed(0)
    head = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 1), nn.Sigmoid())
    nn.init.normal_(head[2].weight, std=5.0)
    assert run(head, batch=(torch.randn(32, 20), torch.rand(32, 1).round()), loss_fn=nn.BCELoss(),
               probes=("activations",)).findings == []
    class Flattened(nn.Module):  # the output is a view of the Sigmoid's (DCGAN's `.view(-1, 1).squeeze(1)`)
        def __init__(self):
            super().__init__()
            self.head = head

        def forward(self, x):
            return self.head(x).view(-1)
    assert run(Flattened(), batch=(torch.randn(32, 20), torch.rand(32).round()), loss_fn=nn.BCELoss(),
               probes=("activations",)).findings == []
    inside = nn.Sequential(nn.Linear(20, 64), nn.Sigmoid(), nn.Linear(64, 1))
    nn.init.normal_(inside[0].weight, std=5.0)
    assert codes(run(inside, batch=(torch.randn(32, 20), torch.randn(32, 1)), loss_fn=nn.MSELoss(),
                     probes=("activations",))) == ["saturated-activations"]


# ── set-up errors ─────────────────────────────────────────────────────────────

def test_setup_errors_say_what_to_pass():
    with pytest.raises(SetupError, match="torch.nn.Module"):
        checkup(lambda x: x, data())
    with pytest.raises(SetupError, match=r"\(inputs, targets\)"):
        checkup(mlp(), [1, 2, 3])
    with pytest.raises(SetupError, match="unknown probe"):
        checkup(mlp(), data(), nn.CrossEntropyLoss(), probes=("nope",))
    no_loss = checkup(mlp(), data(), probes=("init-loss",), progress=False)
    assert "pass loss_fn" in probe(no_loss, "init-loss")["note"]


def test_hf_style_model_computing_its_own_loss():
    class OwnLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(20, 10)

        def forward(self, x, labels):
            logits = self.fc(x)
            return {"loss": F.cross_entropy(logits, labels), "logits": logits}

    x, y = data()
    report = validate(checkup(OwnLoss(), {"x": x, "labels": y}, progress=False))
    assert codes(report) == []
    assert probe(report, "overfit")["passed"] and probe(report, "batch-independence")["status"] == "ran"


def test_tuple_inputs_and_tuple_output_with_loss():
    class TwoInputs(nn.Module):  # returns (logits, loss) when given targets, like nanoGPT
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(20, 10), nn.Linear(5, 10)

        def forward(self, x, z, targets=None):
            logits = self.a(x) + self.b(z)
            return logits, (F.cross_entropy(logits, targets) if targets is not None else None)

    x, y = data()
    z = torch.randn(64, 5)
    report = validate(checkup(TwoInputs(), ((x, z), y), loss_fn=lambda out, t: F.cross_entropy(out[0], t), progress=False))
    assert codes(report) == [] and probe(report, "overfit")["passed"]
    own = validate(checkup(TwoInputs(), {"x": x, "z": z, "targets": y}, progress=False, probes=("init-loss", "overfit")))
    assert codes(own) == [] and probe(own, "init-loss")["loss"] > 0


# ── the batch axis, decided once from evidence ────────────────────────────────

class WordLM(nn.Module):
    """pytorch/examples word_language_model's RNNModel: (seq, batch) tokens, a (layers, batch, hidden) state,
    log-probabilities flattened to (seq * batch, vocab). `mix` makes it average across the batch axis."""

    def __init__(self, vocab=16, dim=24, layers=2, mix=False):
        super().__init__()
        torch.manual_seed(0)
        self.vocab, self.mix = vocab, mix
        self.drop, self.encoder = nn.Dropout(0.2), nn.Embedding(vocab, dim)
        self.rnn, self.decoder = nn.LSTM(dim, dim, layers, dropout=0.2), nn.Linear(dim, vocab)

    def forward(self, tokens, hidden):
        output, hidden = self.rnn(self.drop(self.encoder(tokens)), hidden)
        if self.mix:
            output = output - output.mean(1, keepdim=True)  # a bug: normalizes over the batch
        decoded = self.decoder(self.drop(output)).view(-1, self.vocab)
        return F.log_softmax(decoded, dim=1), hidden


def word_lm_batch(seq=35, batch=20, layers=2, dim=24):
    start = torch.randint(0, 16, (1, batch), generator=torch.Generator().manual_seed(0))
    stream = (torch.arange(seq + 1)[:, None] + start) % 16  # batchify: one column per stream
    hidden = (torch.zeros(layers, batch, dim), torch.zeros(layers, batch, dim))
    return ((stream[:-1], hidden), stream[1:].reshape(-1))


class Policy(nn.Module):
    """pytorch/examples actor_critic: one unbatched (4,) state in, action probabilities and a value out."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.affine1, self.action_head, self.value_head = nn.Linear(4, 128), nn.Linear(128, 2), nn.Linear(128, 1)

    def forward(self, x):
        x = F.relu(self.affine1(x))
        return F.softmax(self.action_head(x), dim=-1), self.value_head(x)


class TransposedLSTM(nn.Module):
    """Takes (batch, seq) and transposes for a sequence-first LSTM: the module alone would mislead."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb, self.rnn, self.head = nn.Embedding(16, 24), nn.LSTM(24, 24), nn.Linear(24, 16)

    def forward(self, idx):
        out, _ = self.rnn(self.emb(idx).transpose(0, 1))
        return self.head(out.transpose(0, 1))


def cheap(model, inputs):
    """What `run` does after a script: the one-forward probes on the captured inputs, no targets."""
    from traindoctor.diagnosis.checkup import CHEAP_PROBES
    from traindoctor.judge.thresholds import DEAD_RELU_TRAINED
    return validate(checkup(model, (inputs, None), probes=CHEAP_PROBES, progress=False,
                            dead_relu_threshold=DEAD_RELU_TRAINED))


def statuses(report):
    return {p["name"]: p["status"] for p in report.sections["checkup"]["probes"]}


def test_sequence_first_lstm_with_hidden_state_is_healthy():
    (tokens, hidden), targets = word_lm_batch()
    report = run(WordLM(), ((tokens, hidden), targets), lambda out, y: F.nll_loss(out[0], y))
    assert codes(report) == [], [f.observation for f in report.findings]
    assert "failed" not in statuses(report).values() and not report.unchecked
    assert report.sections["checkup"]["batch_axis"]["axis"] == 1 and probe(report, "odd-batch")["status"] == "ran"
    assert probe(report, "batch-independence")["status"] == "ran"
    light = cheap(WordLM(), (tokens, hidden))
    assert codes(light) == [] and statuses(light)["odd-batch"] == "ran" and not light.unchecked


def test_sequence_first_model_mixing_across_the_batch_is_caught():
    (tokens, hidden), targets = word_lm_batch()
    assert "batch-mixing" in codes(cheap(WordLM(mix=True), (tokens, hidden)))
    # without the hidden state, only the perturbation evidence (and the LSTM) tells time from batch
    report = cheap(WordLM(mix=True), (tokens, None))
    assert "batch-mixing" in codes(report) and report.sections["checkup"]["batch_axis"]["axis"] == 1


def test_unbatched_state_skips_the_batch_probes():
    state = torch.tensor([0.02, -0.01, 0.03, 0.04])
    light = cheap(Policy(), state)
    assert codes(light) == [] and not light.unchecked
    assert statuses(light)["odd-batch"] == "skipped" and "no batch axis" in probe(light, "odd-batch")["note"]
    assert statuses(light)["batch-independence"] == "skipped" and statuses(light)["eval-determinism"] == "ran"
    actor_critic = lambda out, ret: -out[0][0].log() * (ret - out[1].detach()).sum() + F.smooth_l1_loss(out[1], ret)  # noqa: E731
    full = run(Policy(), (state, torch.tensor([1.0])), actor_critic)
    assert codes(full) == [] and "failed" not in statuses(full).values() and not full.unchecked


@pytest.mark.parametrize("model, batch", [
    (TransposedLSTM(), lm_batch()),  # (batch, seq) into a sequence-first LSTM
    (SeqLM(causal=True), lm_batch()),  # batch-first attention, batch and positions of equal evidence
    (mlp(), (data()[0][:20], data()[1][:20])),  # a square-ish batch: 20 samples of 20 features
])
def test_batch_first_look_alikes_use_dim_0(model, batch):
    report = run(model, batch, lm_loss if batch[1].dim() == 2 else nn.CrossEntropyLoss(),
                 probes=("batch-independence", "odd-batch", "causal-independence", "constant-output"))
    assert codes(report) == [] and report.sections["checkup"]["batch_axis"]["axis"] == 0
    assert "failed" not in statuses(report).values()


# ── copies that are truly independent ─────────────────────────────────────────

class ClosureBlock(nn.Module):
    """minGPT's Block keeps its MLP forward in a lambda closing over the MLP (`m`) or the block (`self`);
    deepcopy copies functions by reference, so a naive copy's forward runs the original's modules."""

    def __init__(self, over_self):
        super().__init__()
        torch.manual_seed(0)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(20, 64), act=nn.GELU(), c_proj=nn.Linear(64, 20), dropout=nn.Dropout(0.3)))
        m = self.mlp
        self.mlpf = (lambda x: self.mlp.dropout(self.mlp.c_proj(self.mlp.act(self.mlp.c_fc(x))))) if over_self else \
            (lambda x: m.dropout(m.c_proj(m.act(m.c_fc(x)))))
        self.norm, self.head = nn.BatchNorm1d(20), nn.Linear(20, 10)

    def forward(self, x):
        return self.head(self.norm(x + self.mlpf(x)))


@pytest.mark.parametrize("over_self", [False, True])
def test_copies_do_not_reach_the_original_through_closures(over_self):
    model = ClosureBlock(over_self)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    report = run(model)
    assert codes(report) == [], [f.observation for f in report.findings]
    assert "failed" not in statuses(report).values() and not report.unchecked
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert model.training and all(p.grad is None for p in model.parameters())


SHARED = {}


class ReachesGlobal(nn.Module):
    """A forward that reaches a module through a global: no copy can follow it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body, self.head = nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU()), nn.Linear(32, 10)
        SHARED["body"] = self.body

    def forward(self, x):
        return self.head(SHARED["body"](x))


def test_a_copy_that_cannot_be_made_independent_is_not_probed():
    model = ReachesGlobal()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    report = run(model)
    assert codes(report) == [] and report.unchecked and report.exit_code == 2
    assert "body" in report.unchecked[0] and "original" in report.unchecked[0]
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # BatchNorm's running stats too
    assert model.training and all(p.grad is None for p in model.parameters())


class WithCriterion(nn.Module):
    def __init__(self):
        super().__init__()
        self.net, self.criterion = mlp(), nn.CrossEntropyLoss()

    def forward(self, x):
        return self.net(x)


def test_a_loss_that_is_a_submodule_of_the_model_is_called_as_given():
    model = WithCriterion()  # make_setup may pass loss_fn=model.criterion
    report = run(model, loss_fn=model.criterion)
    assert codes(report) == [] and "failed" not in statuses(report).values() and not report.unchecked


SavedAction = __import__("collections").namedtuple("SavedAction", ["log_prob", "value"])


class EpisodePolicy(Policy):
    """pytorch/examples reinforce and actor_critic keep the episode's log-probabilities and values in plain
    attributes until the update: a run stopped mid-episode leaves them holding tensors of the autograd graph."""

    def __init__(self):
        super().__init__()
        self.saved_log_probs, self.saved_actions, self.last = [], [], {}

    def play(self, state, steps=3):
        for _ in range(steps):
            probs, value = self(state)
            m = torch.distributions.Categorical(probs)
            action = m.sample()
            self.saved_log_probs.append(m.log_prob(action))
            self.saved_actions.append(SavedAction(m.log_prob(action), value))
        self.last["entropy"] = m.entropy()
        self.last["nested"] = (value * 2, [probs.sum(), (probs[0],)])


def test_graph_tensors_held_in_plain_attributes_are_copied_detached():
    model, state = EpisodePolicy(), torch.tensor([0.02, -0.01, 0.03, 0.04])
    model.play(state)
    held = [*model.saved_log_probs, *(t for a in model.saved_actions for t in a), model.last["entropy"],
            model.last["nested"][0], model.last["nested"][1][0], model.last["nested"][1][1][0]]
    light = cheap(model, state)
    assert codes(light) == [] and "failed" not in statuses(light).values() and not light.unchecked
    assert statuses(light)["odd-batch"] == "skipped" and "no batch axis" in probe(light, "odd-batch")["note"]
    actor_critic = lambda out, ret: -out[0][0].log() * (ret - out[1].detach()).sum() + F.smooth_l1_loss(out[1], ret)  # noqa: E731
    full = run(model, (state, torch.tensor([1.0])), actor_critic)
    assert codes(full) == [] and "failed" not in statuses(full).values() and not full.unchecked
    # the original's attributes are the same objects, still in the graph (the user's update still works)
    now = [*model.saved_log_probs, *(t for a in model.saved_actions for t in a), model.last["entropy"],
           model.last["nested"][0], model.last["nested"][1][0], model.last["nested"][1][1][0]]
    assert len(now) == len(held) and all(a is b and a.grad_fn is not None for a, b in zip(now, held))
    torch.stack(model.saved_log_probs).sum().backward()
    assert model.affine1.weight.grad is not None


# ── evaluation: training-mode behaviour left on vs sampling by design ─────────

class VAE(nn.Module):
    """pytorch/examples vae: reparameterize draws randn_like in eval too (its test loss is a sampled ELBO)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 64), nn.Linear(64, 8), nn.Linear(64, 8)
        self.fc3, self.fc4 = nn.Linear(8, 64), nn.Linear(64, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


class Diffusion(nn.Module):
    """A denoiser's training forward: a random timestep per sample, Gaussian noise added, the noise predicted."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.betas = torch.linspace(1e-4, 0.02, 50)
        self.net, self.t_emb = nn.Sequential(nn.Linear(20, 64), nn.SiLU(), nn.Linear(64, 20)), nn.Embedding(50, 20)

    def forward(self, x0):
        t = torch.randint(0, 50, (x0.shape[0],), device=x0.device)
        a = torch.cumprod(1 - self.betas, 0)[t][:, None]
        noise = torch.randn(x0.shape)
        return self.net(a.sqrt() * x0 + (1 - a).sqrt() * noise + self.t_emb(t)) - noise


class SamplingPolicy(nn.Module):
    """A policy whose forward samples its action: multinomial or Categorical (discrete), or Bernoulli of
    computed probabilities (a torch.bernoulli that is not dropout)."""

    def __init__(self, how):
        super().__init__()
        torch.manual_seed(0)
        self.how, self.body, self.head = how, nn.Sequential(nn.Linear(20, 64), nn.Tanh()), nn.Linear(64, 6)

    def forward(self, obs):
        logits = self.head(self.body(obs))
        if self.how == "bernoulli":
            action = torch.bernoulli(torch.sigmoid(logits))
            return action * logits - F.softplus(logits), action
        if self.how == "multinomial":
            action = torch.multinomial(F.softmax(logits, -1), 1).squeeze(1)
        else:
            action = torch.distributions.Categorical(logits=logits).sample()
        return F.log_softmax(logits, -1).gather(1, action[:, None]).squeeze(1), action


class FunctionalDropout(nn.Module):
    """F.dropout(x, p): its `training` defaults to True, so eval() does not turn it off."""

    def __init__(self, healthy=False):
        super().__init__()
        torch.manual_seed(0)
        self.healthy, self.fc1, self.fc2 = healthy, nn.Linear(20, 64), nn.Linear(64, 10)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        return self.fc2(F.dropout(h, 0.5, self.training) if self.healthy else F.dropout(h, 0.5))


class MaskDropout(nn.Module):
    """A hand-written dropout module, from a uniform draw or in place with bernoulli_ (AWD-LSTM's LockedDropout)."""

    def __init__(self, p=0.3, locked=False, healthy=False):
        super().__init__()
        self.p, self.locked, self.healthy = p, locked, healthy

    def forward(self, x):
        if self.healthy and not self.training:
            return x
        if self.locked:
            mask = x.new_empty(1, x.shape[1]).bernoulli_(1 - self.p) / (1 - self.p)
            return mask.expand_as(x) * x
        return x * (torch.rand_like(x) > self.p).float() / (1 - self.p)


class HardBatchNorm(nn.BatchNorm1d):
    """BatchNorm with training=True hard-coded: evaluation normalizes with the batch's statistics."""

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=True)


class Attention(nn.Module):
    """Attention dropout passed as dropout_p=self.p whatever the mode (nanoGPT gates it on self.training)."""

    def __init__(self, healthy=False):
        super().__init__()
        torch.manual_seed(0)
        self.healthy, self.p, self.qkv, self.head = healthy, 0.2, nn.Linear(16, 48), nn.Linear(16, 10)

    def forward(self, x):
        q, k, v = self.qkv(x).split(16, -1)
        p = self.p if self.training or not self.healthy else 0.0
        return self.head(F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True))


class Counter(nn.Module):
    """Keeps state across calls: evaluation differs between passes with no random op at all."""

    def __init__(self):
        super().__init__()
        self.fc, self.calls = nn.Linear(20, 10), 0

    def forward(self, x):
        self.calls += 1
        return self.fc(x) * self.calls


def mlp_with(middle):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 64), middle, nn.ReLU(), nn.Linear(64, 10))


SAMPLERS = [(VAE, lambda: torch.rand(32, 1, 28, 28)), (Diffusion, lambda: data()[0][:32]),
            *((lambda how=how: SamplingPolicy(how), lambda: data()[0][:32]) for how in ("multinomial", "categorical", "bernoulli"))]


@pytest.mark.parametrize("make, batch", SAMPLERS)
def test_sampling_by_design_in_eval_is_not_a_finding(make, batch):
    model, x = make(), batch()
    rng = torch.get_rng_state()
    light = cheap(model, x)
    assert codes(light) == [], [f.observation for f in light.findings]
    assert "failed" not in statuses(light).values() and not light.unchecked
    evaluation = probe(light, "eval-determinism")
    assert evaluation["sampling_ops"] and not evaluation["training_form_ops"] and "samples in eval" in evaluation["note"]
    # the same random draws on every forward: the perturbation compares inputs, not noise
    independence = probe(light, "batch-independence")
    assert independence["status"] == "ran" and independence["max_relative_change_other_samples"] <= 1e-5
    assert torch.equal(rng, torch.get_rng_state())


@pytest.mark.parametrize("model, batch, op", [
    (FunctionalDropout(), data, "F.dropout"),
    (mlp_with(MaskDropout()), data, "random mask"),
    (mlp_with(MaskDropout(locked=True)), data, "random mask"),
    (mlp_with(HardBatchNorm(64)), data, "F.batch_norm"),
    (Attention(), lambda: (torch.randn(8, 12, 16), torch.randint(0, 10, (8, 12))), "scaled_dot_product_attention"),
])
def test_training_mode_behaviour_left_on_in_eval_is_a_finding(model, batch, op):
    x, _ = batch()
    light = cheap(model, x)
    assert "nondeterministic-eval" in codes(light), probe(light, "eval-determinism")
    found = next(f for f in light.findings if f.code == "nondeterministic-eval")
    assert op in found.observation and found.location.get("module"), found.observation


@pytest.mark.parametrize("model, batch", [
    (FunctionalDropout(healthy=True), data),
    (mlp_with(MaskDropout(healthy=True)), data),
    (mlp_with(MaskDropout(locked=True, healthy=True)), data),
    (mlp_with(nn.BatchNorm1d(64)), data),
    # no running statistics to use: batch statistics by design (batch-independence reports the mixing they cause)
    (mlp_with(nn.BatchNorm1d(64, track_running_stats=False)), data),
    (Attention(healthy=True), lambda: (torch.randn(8, 12, 16), torch.randint(0, 10, (8, 12)))),
])
def test_training_mode_behaviour_switched_off_in_eval_is_quiet(model, batch):
    x, _ = batch()
    light = cheap(model, x)
    evaluation = probe(light, "eval-determinism")
    assert "nondeterministic-eval" not in codes(light) and not light.unchecked, evaluation
    assert not evaluation["training_form_ops"] and not evaluation["sampling_ops"] and "note" not in evaluation


class StatefulRNN(nn.Module):
    """A hidden state kept on the model between calls (truncated BPTT over a stream), detached each call."""

    def __init__(self):
        super().__init__()
        self.rnn, self.out, self.state = nn.GRU(4, 8, batch_first=True), nn.Linear(8, 3), None

    def forward(self, x):
        o, h = self.rnn(x, self.state)
        self.state = h.detach()
        return self.out(o)


def test_evaluation_that_differs_with_no_random_op_is_a_finding():
    light = cheap(Counter(), data()[0])
    assert codes(light) == ["nondeterministic-eval"] and "no dropout" in light.findings[0].observation


def test_a_hidden_state_kept_between_calls_is_the_models_memory_not_nondeterminism():
    model = StatefulRNN()
    model(torch.randn(8, 5, 4))  # training left a state
    light = cheap(model, torch.randn(8, 5, 4))
    assert "nondeterministic-eval" not in codes(light), probe(light, "eval-determinism")
    assert probe(light, "eval-determinism")["eval_repeat_max_diff"] == 0


class DrawsMoved(torch.overrides.TorchFunctionMode):
    """Every random draw made (on the seeded CPU generator), and the device and dtype it was moved to."""

    def __init__(self):
        super().__init__()
        self.drawn, self.moved = {}, {}

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func in (torch.randn, torch.randint):
            self.drawn[id(out)] = out
        elif func is torch.Tensor.to and id(args[0]) in self.drawn:  # on CPU only an explicit device shows
            device = next((torch.device(a) for a in (*args[1:], *kwargs.values()) if isinstance(a, (str, torch.device))), None)
            self.moved[id(args[0])] = (device, out.dtype)
        return out


@pytest.mark.parametrize("x", [torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3).to(torch.bfloat16),
                               torch.randint(0, 50, (6, 5)), torch.randn(1, 3).double()])
def test_probe_noise_is_made_on_the_inputs_device_and_dtype(x):
    """Noise drawn on the CPU generator and combined with a batch on a GPU raised a device mismatch in
    every probe that perturbs or randomizes inputs: it is moved to the batch's device and dtype first."""
    from traindoctor.diagnosis.axis import perturbed
    from traindoctor.diagnosis.setup import Setup
    from traindoctor.diagnosis.probes.training import ablation
    from traindoctor.diagnosis.registry import Context, Fitted

    with DrawsMoved() as watch:
        perturbed(x, 0, torch.Generator().manual_seed(0))
        setup = Setup.build(nn.Sequential(nn.Flatten(), nn.LazyLinear(2)) if x.is_floating_point() else
                            nn.Sequential(nn.Embedding(50, 4), nn.Flatten(), nn.Linear(20, 2)),
                            (x, torch.zeros(x.shape[0], dtype=torch.long)), nn.CrossEntropyLoss())
        if x.shape[0] > 1:
            model = setup.copy_model(train=False).to(x.dtype if x.is_floating_point() else torch.float32)
            ablation(setup, Context(fitted=Fitted(model, 10.0)))
    assert len(watch.drawn) == 1 + (x.shape[0] > 1) and set(watch.moved) == set(watch.drawn)
    assert set(watch.moved.values()) == {(x.device, x.dtype)}


def test_causal_probe_noise_is_made_on_the_inputs_device_and_dtype():
    model, batch = SeqLM(causal=True), lm_batch()
    with DrawsMoved() as watch:
        report = run(model, batch, lm_loss, probes=("causal-independence",))
    assert probe(report, "causal-independence")["status"] == "ran"
    assert watch.drawn and set(watch.moved) == set(watch.drawn)
    assert set(watch.moved.values()) == {(torch.device("cpu"), torch.int64)}


DRAWN = []


class DrawsInTraining(nn.Module):
    """Records what its training forward draws (module-level: the probes run on copies)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(20, 10)

    def forward(self, x):
        if self.training:
            DRAWN.append(float(torch.rand(())))
        return self.fc(x)


def test_training_steps_of_the_probes_draw_new_noise_each_step():
    """Every probe forward was reseeded alike, so overfitting one batch saw the same dropout mask at every
    step (which changes what "can overfit one batch" measures); only forwards that are compared are."""
    DRAWN.clear()
    torch.manual_seed(1)
    run(DrawsInTraining(), probes=("overfit",))
    first = DRAWN[:]
    assert len(first) > 10 and len(set(first)) == len(first)
    DRAWN.clear()
    torch.manual_seed(2)  # and the probe draws the same whatever the caller's RNG state
    run(DrawsInTraining(), probes=("overfit",))
    assert DRAWN == first


class Entered(dict):
    """An object's __dict__ that counts how often something reads all its values."""
    reads = 0

    def values(self):
        Entered.reads += 1
        return super().values()


class Handle:  # stands for a Lightning trainer or a dataset the model keeps a reference to
    def __init__(self):
        self.__dict__ = Entered(rows=list(range(1000)))


def test_copies_do_not_walk_objects_the_model_only_refers_to():
    """The scan for graph tensors followed every object reached (a trainer, a dataset) on every copy
    (about 14 per checkup); it looks in the modules' attributes and plain containers only."""
    model = mlp()
    model.handle = Handle()
    Entered.reads = 0
    report = run(model, probes=("constant-output", "batch-independence"))
    assert statuses(report) == {"constant-output": "ran", "batch-independence": "ran"} and Entered.reads == 0


def test_process_wide_hooks_are_removed_when_setting_up_the_probe_fails(monkeypatch):
    from torch.nn.modules import module as torch_module
    from torch.overrides import TorchFunctionMode
    from traindoctor.diagnosis.guard import guarded
    from traindoctor.diagnosis.eval_ops import EvalOps

    class NoBuffers(nn.Linear):
        def named_buffers(self, *args, **kwargs):
            raise RuntimeError("cannot list buffers")

    hooks = lambda: (len(torch_module._global_forward_pre_hooks), len(torch_module._global_forward_hooks))  # noqa: E731
    before = hooks()
    with pytest.raises(RuntimeError, match="cannot list buffers"):
        with guarded(NoBuffers(2, 2), tensors=True):
            pass
    assert hooks() == before

    def refuse(self):
        raise RuntimeError("mode refused")

    monkeypatch.setattr(TorchFunctionMode, "__enter__", refuse)
    with pytest.raises(RuntimeError, match="mode refused"):
        with EvalOps(mlp()):
            pass
    assert hooks() == before
