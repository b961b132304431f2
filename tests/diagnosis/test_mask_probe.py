"""A padding mask hides the padding, not the content: the padding-mask probe on attention written five
ways (TransformerEncoder, MultiheadAttention sequence-first, scaled_dot_product_attention, a hand-written
masked_fill, an additive float mask), each inverted, and their healthy look-alikes."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import codes
from traindoctor import checkup
from traindoctor.diagnosis.probes.masks import padding_of

V, T, D, B = 12, 10, 16, 16


def padded(pad=0, low=1, full=False, left=False, seed=0):
    """(B, T) token ids in [low, V) other than `pad`, padded with `pad` to T (at the heads if `left`)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(low, V, (B, T), generator=g)
    ids[ids == pad] = (pad + 1) % V if (pad + 1) % V >= low else low
    lengths = torch.full((B,), T) if full else torch.randint(3, T + 1, (B,), generator=g)
    for i, n in enumerate(lengths.tolist()):
        if left:
            ids[i, :T - n] = pad
        else:
            ids[i, n:] = pad
    return ids


class Encoder(nn.Module):
    """nn.TransformerEncoder, batch-first, [CLS]-style read-out; `mask(ids, attention_mask)` gives the
    src_key_padding_mask."""
    def __init__(self, mask, causal=False):
        super().__init__()
        self.mask, self.causal = mask, causal
        self.emb = nn.Embedding(V, D)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, 2, 32, dropout=0.0, batch_first=True), 2)
        self.head = nn.Linear(D, 2)

    def forward(self, input_ids, attention_mask):
        causal = nn.Transformer.generate_square_subsequent_mask(input_ids.shape[1]) if self.causal else None
        h = self.enc(self.emb(input_ids), mask=causal, src_key_padding_mask=self.mask(input_ids, attention_mask))
        return self.head(h[:, 0])


class SeqFirst(nn.Module):
    """nn.MultiheadAttention called directly on (T, B) token ids; the mask is built from the pad id."""
    def __init__(self, pad, hide_pad):
        super().__init__()
        self.pad, self.hide_pad = pad, hide_pad
        self.emb, self.attn, self.head = nn.Embedding(V, D), nn.MultiheadAttention(D, 2), nn.Linear(D, 2)

    def forward(self, ids):  # (T, B)
        h = self.emb(ids)
        mask = (ids == self.pad) if self.hide_pad else (ids != self.pad)
        out, _ = self.attn(h, h, h, key_padding_mask=mask.t())
        return self.head(out.mean(0))


class HandWritten(nn.Module):
    """Single-head attention written out: scores.masked_fill(hidden, -inf), or an additive float mask."""
    def __init__(self, pad, form):
        super().__init__()
        self.pad, self.form = pad, form
        self.emb, self.qkv, self.head = nn.Embedding(V, D), nn.Linear(D, 3 * D), nn.Linear(D, 2)

    def forward(self, ids):
        q, k, v = self.qkv(self.emb(ids)).chunk(3, -1)
        scores = q @ k.transpose(1, 2) / D ** 0.5  # (B, T, T)
        real = (ids != self.pad)[:, None, :]
        if self.form == "masked_fill-inverted":
            scores = scores.masked_fill(real, float("-inf"))
        elif self.form == "masked_fill":
            scores = scores.masked_fill(~real, float("-inf"))
        elif self.form == "additive-inverted":
            scores = scores + real.float() * -1e9
        elif self.form == "additive-bert":  # BERT's extended mask, added to the scores
            scores = scores + (1.0 - real.float()) * -10000.0
        return self.head((scores.softmax(-1) @ v)[:, 0])


class Sdpa(nn.Module):
    """F.scaled_dot_product_attention, whose bool attn_mask means True = attend."""
    def __init__(self, pad, attend_real):
        super().__init__()
        self.pad, self.attend_real = pad, attend_real
        self.emb, self.qkv, self.head = nn.Embedding(V, D), nn.Linear(D, 3 * D), nn.Linear(D, 2)

    def forward(self, ids):
        q, k, v = (t.unflatten(-1, (2, D // 2)).transpose(1, 2) for t in self.qkv(self.emb(ids)).chunk(3, -1))
        real = ids != self.pad
        mask = (real if self.attend_real else ~real)[:, None, None, :]
        return self.head(F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).flatten(2)[:, 0])


class Pooling(nn.Module):
    """Attention pooling: one score per position, padding masked before the softmax over positions."""
    def __init__(self, pad, invert):
        super().__init__()
        self.pad, self.invert = pad, invert
        self.emb, self.score, self.head = nn.Embedding(V, D), nn.Linear(D, 1), nn.Linear(D, 2)

    def forward(self, ids):
        h = self.emb(ids)
        hide = (ids != self.pad) if self.invert else (ids == self.pad)
        weights = self.score(h).squeeze(-1).masked_fill(hide, -1e9).softmax(1)
        return self.head((weights.unsqueeze(-1) * h).sum(1))


class Seq2Seq(nn.Module):
    """nn.Transformer on (source, target) ids, both padded; `memory(src)` gives the cross-attention's
    memory_key_padding_mask."""
    def __init__(self, memory):
        super().__init__()
        self.memory = memory
        self.emb, self.head = nn.Embedding(V, D), nn.Linear(D, V)
        self.net = nn.Transformer(D, 2, 1, 1, 32, dropout=0.0, batch_first=True)

    def forward(self, src, tgt):
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        h = self.net(self.emb(src), self.emb(tgt), tgt_mask=causal, src_key_padding_mask=src == 0,
                     tgt_key_padding_mask=tgt == 0, memory_key_padding_mask=self.memory(src))
        return self.head(h[:, 0])


class OwnCls(nn.Module):
    """Prepends a learned [CLS] inside the forward: the keys are the input's positions after one of its own."""
    def __init__(self, invert):
        super().__init__()
        self.invert = invert
        self.cls, self.emb = nn.Parameter(torch.randn(1, 1, D)), nn.Embedding(V, D)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, 2, 32, dropout=0.0, batch_first=True), 1)
        self.head = nn.Linear(D, 2)

    def forward(self, input_ids, attention_mask):
        h = torch.cat([self.cls.expand(len(input_ids), 1, D), self.emb(input_ids)], 1)
        keep = torch.cat([torch.ones_like(attention_mask[:, :1]), attention_mask], 1).bool()
        return self.head(self.enc(h, src_key_padding_mask=keep if self.invert else ~keep)[:, 0])


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.rnn, self.head = nn.Embedding(V, D), nn.GRU(D, D, batch_first=True), nn.Linear(D, 2)

    def forward(self, ids):
        return self.head(self.rnn(self.emb(ids))[0][:, -1])


def hf(ids, pad=0):
    return {"input_ids": ids, "attention_mask": ids != pad}


labels = torch.randint(0, 2, (B,), generator=torch.Generator().manual_seed(1))


def complementary(seed=4):
    """A right-padded target of 7-9 tokens and a left-padded source of the other 3-1: the source's padding
    is where the target has its tokens."""
    g = torch.Generator().manual_seed(seed)
    tgt, src = torch.randint(1, V, (B, T), generator=g), torch.randint(1, V, (B, T), generator=g)
    for i, n in enumerate(torch.randint(7, 10, (B,), generator=g).tolist()):
        tgt[i, n:], src[i, :n] = 0, 0
    return src, tgt


tokenizer_mask = lambda ids, am: am.bool()          # noqa: E731  (True = real token: inverted here)
correct_mask = lambda ids, am: ~am.bool()           # noqa: E731

CASES = {  # name: (model, inputs, inverted)
    # broken: the mask hides the tokens
    "encoder-attention_mask.bool()": (Encoder(tokenizer_mask), hf(padded()), True),
    "encoder-ids!=pad-pad7": (Encoder(lambda ids, am: ids != 7), hf(padded(pad=7, low=0), pad=7), True),
    "encoder-left-padded": (Encoder(tokenizer_mask), hf(padded(left=True)), True),
    "mha-sequence-first": (SeqFirst(pad=0, hide_pad=False), padded().t().contiguous(), True),
    "sdpa-attend-padding": (Sdpa(pad=0, attend_real=False), padded(), True),
    "masked_fill-hides-tokens": (HandWritten(pad=3, form="masked_fill-inverted"), padded(pad=3, low=0), True),
    "additive-mask*-1e9": (HandWritten(pad=0, form="additive-inverted"), padded(), True),
    "pooling-hides-tokens": (Pooling(pad=0, invert=True), padded(), True),
    "own-cls-attention_mask.bool()": (OwnCls(invert=True), hf(padded()), True),
    "seq2seq-memory-mask": (Seq2Seq(lambda src: src != 0), (padded(), padded(seed=3)), True),
    # healthy look-alikes
    "encoder-~attention_mask": (Encoder(correct_mask), hf(padded()), False),
    "encoder-no-padding": (Encoder(tokenizer_mask), hf(padded(full=True)), False),
    "encoder-causal-only": (Encoder(lambda ids, am: None, causal=True), hf(padded()), False),
    "encoder-causal-and-padding": (Encoder(correct_mask, causal=True), hf(padded()), False),
    "encoder-pad-id-11": (Encoder(lambda ids, am: ids == 11), hf(padded(pad=11, low=0), pad=11), False),
    "mha-sequence-first-correct": (SeqFirst(pad=0, hide_pad=True), padded().t().contiguous(), False),
    "sdpa-attend-tokens": (Sdpa(pad=0, attend_real=True), padded(), False),
    "masked_fill-hides-padding": (HandWritten(pad=3, form="masked_fill"), padded(pad=3, low=0), False),
    "additive-bert-extended-mask": (HandWritten(pad=0, form="additive-bert"), padded(), False),
    "pooling-hides-padding": (Pooling(pad=0, invert=False), padded(), False),
    "recurrent-padded": (Recurrent(), padded(), False),
    "own-cls-~attention_mask": (OwnCls(invert=False), hf(padded()), False),
    "seq2seq-source-and-target-padded": (Seq2Seq(lambda src: src == 0), (padded(), padded(seed=3)), False),
    # a short left-padded source's mask hides where a long right-padded target has its tokens
    "seq2seq-left-source-right-target": (Seq2Seq(lambda src: src == 0), complementary(), False),
}


@pytest.mark.parametrize("case", CASES)
def test_padding_mask(case):
    model, inputs, inverted = CASES[case]
    report = checkup(model, (inputs, labels), F.cross_entropy, probes=("padding-mask",), progress=False)
    record = report.sections["checkup"]["probes"]
    assert ("padding-mask-inverted" in codes(report)) == inverted, record
    if inverted:
        assert report.findings[0].location["module"], record


@pytest.mark.parametrize("case", ["encoder-attention_mask.bool()", "mha-sequence-first", "masked_fill-hides-tokens"])
def test_inverted_mask_leads_the_full_checkup(case):
    model, inputs, _ = CASES[case]
    report = checkup(model, (inputs, labels), F.cross_entropy, overfit_steps=30, progress=False)
    assert codes(report)[0] == "padding-mask-inverted", [(f.code, f.observation) for f in report.findings]


def test_the_model_and_batch_are_left_as_they_were():
    model, inputs, _ = CASES["encoder-attention_mask.bool()"]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ids = inputs["input_ids"].clone()
    hooks = (len(model.enc.layers[0].self_attn._forward_pre_hooks), len(model.enc.layers[0].self_attn._forward_hooks))
    checkup(model, (inputs, labels), F.cross_entropy, probes=("padding-mask",), progress=False)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items()) and torch.equal(ids, inputs["input_ids"])
    assert hooks == (len(model.enc.layers[0].self_attn._forward_pre_hooks), len(model.enc.layers[0].self_attn._forward_hooks))


# ── the padding, found from the data ─────────────────────────────────────────

def test_padding_is_the_value_filling_the_tails_whatever_it_is():
    for pad in (0, 7, 11):
        value, side, positions = padding_of(padded(pad=pad, low=0))
        assert (value, side) == (pad, "end") and torch.equal(positions, padded(pad=pad, low=0) == pad)


def test_left_padding_is_found_at_the_heads():
    ids = padded(left=True)
    value, side, positions = padding_of(ids)
    assert (value, side) == (0, "start") and torch.equal(positions, ids == 0)


def test_a_token_opening_every_row_is_not_padding():
    ids = padded(low=2)
    ids[:, 0] = 1  # [CLS]
    assert padding_of(ids)[:2] == (0, "end")


@pytest.mark.parametrize("ids", [padded(full=True), torch.randint(0, 3, (64, 40), generator=torch.Generator().manual_seed(2)),
                                 (padded() != 0).long()])  # an attention_mask: which value pads is the question
def test_unpadded_text_and_masks_have_no_padding(ids):
    assert padding_of(ids) is None


def test_a_token_closing_every_row_is_not_padding():
    """A [SEP] ending every unpadded row, and a mask that lets attention see only it, is not an inverted mask."""
    ids = padded(full=True, low=2)
    ids[:, -1] = 1
    assert padding_of(ids) is None
    model = HandWritten(pad=1, form="masked_fill-inverted")  # hides every position but the [SEP]
    report = checkup(model, (ids, labels), F.cross_entropy, probes=("padding-mask",), progress=False)
    assert "padding-mask-inverted" not in codes(report)


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("inverted", [False, True])
def test_a_hugging_face_encoder_given_the_mask_upside_down(implementation, inverted):
    """BertModel takes attention_mask 1 = real token and builds its additive (eager) or boolean (sdpa) mask."""
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=V, hidden_size=D, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, attn_implementation=implementation)
    model = transformers.BertForSequenceClassification(config)
    ids = padded()
    real = (ids != 0).long()
    batch = {"input_ids": ids, "attention_mask": 1 - real if inverted else real, "labels": labels}
    report = checkup(model, batch, probes=("padding-mask",), progress=False)
    assert ("padding-mask-inverted" in codes(report)) == inverted, report.sections["checkup"]["probes"]
