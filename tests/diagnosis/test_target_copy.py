"""The answer in the input: an integer input equal to the targets, and outputs that follow it."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import codes
from traindoctor import checkup


class Decoder(nn.Module):
    """A teacher-forced decoder: reads the previous tokens (or, broken, the targets themselves)."""
    def __init__(self, vocab=12):
        super().__init__()
        self.emb, self.rnn, self.out = nn.Embedding(vocab, 16), nn.GRU(16, 16, batch_first=True), nn.Linear(16, vocab)

    def forward(self, tokens):
        return self.out(self.rnn(self.emb(tokens))[0])


class TeacherForced(nn.Module):
    """A decoder handed the targets themselves (teacher forcing); healthy when it shifts them right inside,
    so the output at p reads the targets before p only. Sequence-first unless batch_first."""
    def __init__(self, shifts, batch_first=False, vocab=12):
        super().__init__()
        self.shifts, self.t = shifts, 1 if batch_first else 0
        self.emb, self.out = nn.Embedding(vocab, 16), nn.Linear(16, vocab)
        self.rnn = nn.GRU(16, 16, batch_first=batch_first)

    def forward(self, targets):
        if self.shifts:
            start = torch.zeros_like(targets.narrow(self.t, 0, 1))  # the start token
            targets = torch.cat([start, targets.narrow(self.t, 0, targets.shape[self.t] - 1)], self.t)
        return self.out(self.rnn(self.emb(targets))[0])


class WithLabels(nn.Module):
    """Hugging Face style: labels go in, only the loss reads them."""
    def __init__(self, vocab=12):
        super().__init__()
        self.dec = Decoder(vocab)

    def forward(self, input_ids, labels):
        logits = self.dec(input_ids)
        return logits


class LabelEmbedding(nn.Module):
    """A classifier that was handed its own label as a feature."""
    def __init__(self):
        super().__init__()
        self.x, self.y, self.out = nn.Linear(6, 8), nn.Embedding(4, 8), nn.Linear(8, 4)

    def forward(self, x, label):
        return self.out(torch.relu(self.x(x) + self.y(label)))


class OwnLoss(nn.Module):
    """Hugging Face token classification: the model computes its loss from the labels, -100 where none applies."""
    def __init__(self):
        super().__init__()
        self.dec = Decoder()

    def forward(self, input_ids, labels):
        logits = self.dec(input_ids)
        self.loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return logits


class IgnoredLabelEmbedding(LabelEmbedding):
    """Handed its own label as a feature, the ignored ones (-100) read as class 0."""
    def forward(self, x, label):
        return super().forward(x, label.clamp(min=0))


def seq_loss(out, y):
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


g = torch.Generator().manual_seed(0)
seq = torch.randint(0, 12, (16, 10), generator=g)
tags = (seq[:, 1:] % 4).masked_fill(seq[:, 1:] > 8, -100)
CASES = {  # (model, inputs, targets, loss, leaks)
    "decoder-fed-targets": (Decoder(), seq[:, 1:], seq[:, 1:], seq_loss, True),
    "lm-targets-not-shifted": (Decoder(), seq, seq.clone(), seq_loss, True),
    "label-as-feature": (LabelEmbedding(), (torch.randn(16, 6, generator=g), seq[:, 0] % 4), seq[:, 0] % 4,
                         F.cross_entropy, True),
    "decoder-shifted": (Decoder(), seq[:, :-1], seq[:, 1:], seq_loss, False),
    # teacher forcing on the targets themselves: only the inputs before p reach the output at p
    "targets-shifted-inside": (TeacherForced(True, batch_first=True), seq, seq.clone(), seq_loss, False),
    "targets-shifted-inside-sequence-first": (TeacherForced(True), seq.t(), seq.t().clone(), seq_loss, False),
    "targets-read-unshifted-sequence-first": (TeacherForced(False), seq.t(), seq.t().clone(), seq_loss, True),
    "labels-only-for-the-loss": (WithLabels(), {"input_ids": seq[:, :-1], "labels": seq[:, 1:]}, seq[:, 1:], seq_loss, False),
    "labels-with-ignored-positions-for-the-loss": (OwnLoss(), {"input_ids": seq[:, :-1], "labels": tags}, tags,
                                                   seq_loss, False),
    "label-with-ignored-positions-as-feature": (IgnoredLabelEmbedding(), (torch.randn(16, 6, generator=g), tags[:, 0]),
                                                tags[:, 0], F.cross_entropy, True),
    "integer-feature-unrelated": (LabelEmbedding(), (torch.randn(16, 6, generator=g), seq[:, 1] % 4), seq[:, 0] % 4,
                                  F.cross_entropy, False),
}


@pytest.mark.parametrize("case", CASES)
def test_target_copy(case):
    model, inputs, targets, loss, leaks = CASES[case]
    report = checkup(model, (inputs, targets), loss, probes=("target-copy",), progress=False)
    record = report.sections["checkup"]["probes"]
    assert ("label-leakage" in codes(report)) == leaks, record
    assert record[0]["status"] == "ran", record


# ── floating targets: a copy, unless the model reconstructs through a bottleneck ────────────────────────

class Denoiser(nn.Module):
    """Takes a noisy sample and its noise level; broken when scored against that same noisy sample."""
    def __init__(self, d=8, residual=False):
        super().__init__()
        self.net, self.residual = nn.Sequential(nn.Linear(d + 1, 64), nn.SiLU(), nn.Linear(64, d)), residual

    def forward(self, x_t, t):
        out = self.net(torch.cat([x_t, t[:, None]], 1))
        return x_t + out if self.residual else out


class SignalDenoiser(nn.Module):
    """A 1-D convolutional denoiser over (batch, 1, length) signals: every layer as wide as the signal."""
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(1, 8, 5, padding=2), nn.ReLU(), nn.Conv1d(8, 1, 5, padding=2))

    def forward(self, x):
        return self.net(x)


class AutoEncoder(nn.Module):
    """Reconstructs its input through a code of `code` values: the copy is the task, made hard on purpose."""
    def __init__(self, d=8, code=3):
        super().__init__()
        self.enc, self.dec = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, code)), \
            nn.Sequential(nn.Linear(code, 32), nn.ReLU(), nn.Linear(32, d))

    def forward(self, x):
        return self.dec(self.enc(x))


class VAE(AutoEncoder):
    """Samples its code: the noise differs per sample, yet all of the input still passes through the code."""
    def __init__(self, d=8, code=3):
        super().__init__(d, 2 * code)
        self.dec[0] = nn.Linear(code, 32)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp())


class TwoHeadVAE(nn.Module):
    """Its code is drawn from two heads, the mean and the log-variance: neither alone carries the input."""
    def __init__(self, d=8, code=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d, 32), nn.ReLU())
        self.mu, self.logvar = nn.Linear(32, code), nn.Linear(32, code)
        self.dec = nn.Sequential(nn.Linear(code, 32), nn.ReLU(), nn.Linear(32, d))

    def forward(self, x):
        h = self.body(x)
        mu, logvar = self.mu(h), self.logvar(h)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp())


class ConvAutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 6))
        self.dec = nn.Sequential(nn.Linear(6, 64), nn.ReLU(), nn.Linear(64, 64), nn.Unflatten(1, (1, 8, 8)))

    def forward(self, x):
        return self.dec(self.enc(x))


x8, t = torch.randn(32, 8, generator=g), torch.rand(32, generator=g)
eps = torch.randn(32, 8, generator=g)
signal, images = torch.randn(32, 1, 24, generator=g), torch.randn(32, 1, 8, 8, generator=g)
FLOAT_CASES = {  # (model, inputs, targets, leaks)
    "denoiser-scored-against-its-input": (Denoiser(), (x8, t), x8, True),
    "residual-denoiser-scored-against-its-input": (Denoiser(residual=True), (x8, t), x8.clone(), True),
    "conv-denoiser-scored-against-its-input": (SignalDenoiser(), signal, signal, True),
    "denoiser-predicts-the-noise": (Denoiser(), (x8 + eps, t), eps, False),
    "autoencoder": (AutoEncoder(), x8, x8, False),
    "vae": (VAE(), x8, x8, False),
    "vae-with-two-heads": (TwoHeadVAE(), x8, x8, False),
    "conv-autoencoder": (ConvAutoEncoder(), images, images, False),
}


@pytest.mark.parametrize("case", FLOAT_CASES)
def test_a_floating_target_equal_to_an_input_is_a_copy_unless_a_bottleneck_carries_it(case):
    model, inputs, targets, leaks = FLOAT_CASES[case]
    report = checkup(model, (inputs, targets), F.mse_loss, probes=("target-copy",), progress=False)
    record = report.sections["checkup"]["probes"]
    assert ("label-leakage" in codes(report)) == leaks, record
    if not leaks and case != "denoiser-predicts-the-noise":
        assert record[0].get("bottleneck"), record


class TiedAutoEncoder(nn.Module):
    """A linear autoencoder written with its own matrix: F.linear(x, W), then W transposed."""
    def __init__(self, d=8, code=3):
        super().__init__()
        self.W = nn.Parameter(torch.randn(code, d) * 0.3)

    def forward(self, x):
        return F.linear(F.linear(x, self.W), self.W.t())


def test_a_code_made_by_hand_written_matrices_cannot_be_held_and_is_not_called_a_copy():
    report = checkup(TiedAutoEncoder(), (x8, x8), F.mse_loss, probes=("target-copy",), progress=False)
    record = report.sections["checkup"]["probes"][0]
    assert "label-leakage" not in codes(report)
    assert record["status"] == "skipped" and "matrices of its own" in record["note"], record
