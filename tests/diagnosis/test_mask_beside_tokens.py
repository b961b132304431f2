"""An attention mask passed to the model beside its tokens is a (T, T) table: it shares a size with the
positions, not the samples, so it must not make the positions the batch axis. Sequence-first (T, B) and
batch-first (B, T) language models with a mask argument and flattened targets: the mask the wrong way round
is a causal leak, the right one is quiet (a graph's adjacency beside its nodes still holds the samples:
test_pairwise_inputs.py)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import codes
from traindoctor import checkup

V, T, B = 10, 8, 12


class LM(nn.Module):
    def __init__(self, batch_first):
        super().__init__()
        torch.manual_seed(0)
        self.emb, self.out = nn.Embedding(V, 16), nn.Linear(16, V)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=batch_first)
        self.enc = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)

    def forward(self, tokens, mask):
        return self.out(self.enc(self.emb(tokens), mask=mask))


def flat_loss(out, y):
    return F.cross_entropy(out.reshape(-1, V), y)


def mask(right_way):
    m = nn.Transformer.generate_square_subsequent_mask(T)
    return m if right_way else m.t()  # transposed: each position sees itself and every later one


@pytest.mark.parametrize("batch_first", [False, True], ids=["sequence-first", "batch-first"])
@pytest.mark.parametrize("right_way", [False, True], ids=["transposed-mask", "subsequent-mask"])
def test_a_mask_argument_leaves_the_samples_on_their_axis(batch_first, right_way):
    ids = torch.randint(0, V, (B, T + 1), generator=torch.Generator().manual_seed(0))
    x, y = (ids[:, :-1], ids[:, 1:]) if batch_first else (ids[:, :-1].t(), ids[:, 1:].t())
    report = checkup(LM(batch_first), ((x, mask(right_way)), y.reshape(-1)), flat_loss,
                     probes=("causal-independence",), progress=False)
    record = report.sections["checkup"]["probes"][0]
    assert record["time_dim"] == (1 if batch_first else 0), record
    assert ("causal-leak" in codes(report)) == (not right_way), record
