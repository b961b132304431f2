"""`traindoctor run`, default configuration, on padded text classifiers whose attention mask is inverted
(TransformerEncoder batch-first with a tokenizer's attention_mask; MultiheadAttention sequence-first with a
mask built from the pad id) and on their healthy counterparts (the mask inverted correctly, pad id 9)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT, codes

SCRIPT = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
PAD, V, T, D = PAD_ID, 10, 12, 32
def batch(n=32):
    ids = torch.randint(0, V - 1, (n, T))
    ids[ids == PAD] = V - 1                          # tokens are every id but PAD
    lengths = torch.randint(4, T + 1, (n,))
    for i, k in enumerate(lengths.tolist()):
        ids[i, k:] = PAD
    real = ids != PAD
    y = (((ids == 3) & real).sum(1) > ((ids == 4) & real).sum(1)).long()
    return {"input_ids": ids, "attention_mask": real.long()}, y
MODEL
model = Model(); opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
for step in range(60):
    inputs, y = batch()
    loss = F.cross_entropy(model(**inputs), y)
    opt.zero_grad(); loss.backward(); opt.step()
"""

ENCODER = """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.pos = nn.Embedding(V, D), nn.Embedding(T, D)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, 4, 64, dropout=0.0, batch_first=True), 2)
        self.head = nn.Linear(D, 2)
    def forward(self, input_ids, attention_mask):
        h = self.emb(input_ids) + self.pos(torch.arange(T))
        h = self.enc(h, src_key_padding_mask=MASK)
        real = attention_mask.unsqueeze(-1).float()
        return self.head((h * real).sum(1) / real.sum(1))
"""

SEQUENCE_FIRST = """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.pos = nn.Embedding(V, D), nn.Embedding(T, D)
        self.attn, self.head = nn.MultiheadAttention(D, 4), nn.Linear(D, 2)
    def forward(self, input_ids, attention_mask):
        ids = input_ids.t()                                  # (T, B): sequence-first
        h = self.emb(ids) + self.pos(torch.arange(T))[:, None]
        out, _ = self.attn(h, h, h, key_padding_mask=MASK)
        return self.head(out.max(0).values)
"""

CASES = {  # name: (model, mask expression, pad id, inverted)
    "encoder-attention_mask.bool()": (ENCODER, "attention_mask.bool()", 0, True),
    "sequence-first-ids!=pad": (SEQUENCE_FIRST, "(ids != PAD).t()", 0, True),
    "encoder-~attention_mask": (ENCODER, "~attention_mask.bool()", 0, False),
    "sequence-first-ids==pad-pad9": (SEQUENCE_FIRST, "(ids == PAD).t()", 9, False),
}


def script(case):
    model, mask, pad, _ = CASES[case]
    return SCRIPT.replace("MODEL", model.replace("MASK", mask)).replace("PAD_ID", str(pad))


@pytest.mark.parametrize("case", CASES)
def test_run_names_an_inverted_padding_mask(run_code, case):
    inverted = CASES[case][-1]
    report = run_code(script(case))
    found = codes(report)
    if inverted:
        assert found[:1] == ["padding-mask-inverted"], [(f.code, f.observation) for f in report.findings]
    else:
        assert "padding-mask-inverted" not in found and found == [], [(f.code, f.observation) for f in report.findings]


def test_the_command_line_reports_it_as_the_root_cause(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(script("encoder-attention_mask.bool()"))
    done = subprocess.run([sys.executable, "-m", "traindoctor", "run", "--format", "json", path], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["summary"]["root_cause"] == "padding-mask-inverted"
