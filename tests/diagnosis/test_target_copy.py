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


def seq_loss(out, y):
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


g = torch.Generator().manual_seed(0)
seq = torch.randint(0, 12, (16, 10), generator=g)
CASES = {  # (model, inputs, targets, loss, leaks)
    "decoder-fed-targets": (Decoder(), seq[:, 1:], seq[:, 1:], seq_loss, True),
    "lm-targets-not-shifted": (Decoder(), seq, seq.clone(), seq_loss, True),
    "label-as-feature": (LabelEmbedding(), (torch.randn(16, 6, generator=g), seq[:, 0] % 4), seq[:, 0] % 4,
                         F.cross_entropy, True),
    "decoder-shifted": (Decoder(), seq[:, :-1], seq[:, 1:], seq_loss, False),
    "labels-only-for-the-loss": (WithLabels(), {"input_ids": seq[:, :-1], "labels": seq[:, 1:]}, seq[:, 1:], seq_loss, False),
    "integer-feature-unrelated": (LabelEmbedding(), (torch.randn(16, 6, generator=g), seq[:, 1] % 4), seq[:, 0] % 4,
                                  F.cross_entropy, False),
}


@pytest.mark.parametrize("case", CASES)
def test_target_copy(case):
    model, inputs, targets, loss, leaks = CASES[case]
    report = checkup(model, (inputs, targets), loss, probes=("target-copy",), progress=False)
    assert ("label-leakage" in codes(report)) == leaks, report.sections["checkup"]["probes"]
