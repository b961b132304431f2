"""padding-in-loss on what loss calls receive: padded sequences of several shapes (batch- or
sequence-first, padded at the end or the start, padding ids other than 0, targets flattened or not,
a next-token shift made inside the model) whose padding the loss counts, and healthy look-alikes
(ignore_index, a zero class weight, a mask applied by hand, unpadded text, an imbalanced
classification, sentences that all end in the same token, labels passed to the model)."""

import torch
import torch.nn.functional as F

from traindoctor.judge.loss import flags
from traindoctor.measure.losses import hand_written, observe_call

V = 30


def lengths(n, low, high, seed=0):
    return torch.randint(low, high + 1, (n,), generator=torch.Generator().manual_seed(seed))


def padded(n, length, pad, low=3, high=9, left=False, seed=0):
    """(n, length) token ids in [3, V) with `pad` filling each row after (or before) its real tokens."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, V - 1, (n, length), generator=g)
    real = torch.arange(length).expand(n, length) < lengths(n, low, high, seed).unsqueeze(1)
    if left:
        real = real.flip(1)
    return ids.where(real, torch.full_like(ids, pad)), real


def judge(name, batch, **bound):
    """The codes flagged for one loss call made after the model was called on `batch` (args, kwargs)."""
    seen = observe_call(name, bound, (None, *batch))
    return flags([{**seen, "step": 0, "location": {}}]) if seen else {}


def judge_graph(loss, batch):
    """The codes flagged from the top of a loss graph (losses reduced by hand)."""
    return flags([{**seen, "step": 0, "location": {}} for seen in hand_written(loss, (None, *batch))])


def logits_for(target):
    return torch.randn(*target.shape, V)


# ── broken: the padding is counted ──────────────────────────────────────────
def test_shifted_char_lm_flattened_targets():
    seq, _ = padded(32, 40, pad=0)
    inp, tgt = seq[:, :-1], seq[:, 1:]
    found = judge("cross_entropy", ((inp,), {}), input=logits_for(tgt).reshape(-1, V), target=tgt.reshape(-1))
    ev = found["padding-in-loss"][0]
    assert ev["pad_value"] == 0 and ev["target_value"] == 0 and ev["edge"] == "end" and ev["counted_share"] > 0.6


def test_sequence_first_seq2seq_with_padding_id_1():
    src, _ = padded(24, 20, pad=1, seed=1)
    tgt, _ = padded(24, 16, pad=1, seed=2)
    tgt_in, tgt_out = tgt[:, :-1].T, tgt[:, 1:].T  # (L, B): the nn.Transformer tutorial's layout
    found = judge("cross_entropy", ((src.T, tgt_in), {}), input=logits_for(tgt_out).reshape(-1, V),
                  target=tgt_out.reshape(-1))
    ev = found["padding-in-loss"][0]
    assert ev["tensor"] == "arg1" and ev["seq_dim"] == 0 and ev["pad_value"] == 1 and ev["target_value"] == 1


def test_left_padded_tagging_with_attention_mask_and_unflattened_targets():
    ids, real = padded(16, 24, pad=50, left=True, seed=3)
    tags = torch.randint(0, 5, ids.shape).where(real, torch.full_like(ids, 7))  # the tag padding id is not the token's
    found = judge("cross_entropy", ((), {"input_ids": ids, "attention_mask": real.long()}),
                  input=torch.randn(16, V, 24), target=tags)
    hits = found["padding-in-loss"]
    assert hits[0]["edge"] == "start" and hits[0]["target_value"] == 7


def test_next_token_shift_inside_the_model_with_nll_loss():
    ids, _ = padded(8, 30, pad=V - 1, seed=4)  # pad = eos, the last id
    labels = ids[:, 1:].reshape(-1)  # what a causal LM passes to its loss after shifting labels=input_ids
    found = judge("nll_loss", ((ids,), {"labels": ids}), input=torch.randn(labels.numel(), V).log_softmax(1),
                  target=labels)
    assert found["padding-in-loss"][0]["pad_value"] == V - 1


def test_class_weights_that_keep_the_padding_class():
    seq, _ = padded(32, 40, pad=0, seed=5)
    inp, tgt = seq[:, :-1], seq[:, 1:]
    found = judge("cross_entropy", ((inp,), {}), input=logits_for(tgt).reshape(-1, V), target=tgt.reshape(-1),
                  weight=torch.ones(V))
    assert "padding-in-loss" in found


def test_per_position_losses_reduced_with_no_mask():
    seq, _ = padded(32, 40, pad=2, seed=13)
    inp, tgt = seq[:, :-1], seq[:, 1:]
    logits = logits_for(tgt).requires_grad_()
    flat = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), reduction="none").mean()
    per_row = F.nll_loss(logits.log_softmax(-1).transpose(1, 2), tgt, reduction="none").sum(1).mean() / 39
    for loss in (flat, per_row):
        ev = judge_graph(loss, ((inp,), {}))["padding-in-loss"][0]
        assert ev["reduction"] == "none" and ev["pad_value"] == 2 and ev["ignore_index"] == -100


# ── healthy look-alikes ─────────────────────────────────────────────────────
def test_ignore_index_set_to_the_padding_id():
    for pad in (0, V - 1):
        seq, _ = padded(32, 40, pad=pad, seed=6)
        inp, tgt = seq[:, :-1], seq[:, 1:]
        assert judge("cross_entropy", ((inp,), {}), input=logits_for(tgt).reshape(-1, V), target=tgt.reshape(-1),
                     ignore_index=pad) == {}


def test_padding_labels_set_to_minus_100_and_zero_weight():
    ids, real = padded(16, 24, pad=0, seed=7)
    labels = ids.where(real, torch.full_like(ids, -100))
    assert judge("cross_entropy", ((), {"input_ids": ids, "attention_mask": real}), input=torch.randn(16, V, 24),
                 target=labels) == {}
    weight = torch.ones(V)
    weight[0] = 0.0
    assert judge("cross_entropy", ((ids,), {}), input=torch.randn(16, V, 24), target=ids.roll(-1, 1).where(
        real.roll(-1, 1), torch.zeros_like(ids)), weight=weight) == {}


def test_loss_masked_by_hand():
    seq, real = padded(32, 40, pad=0, seed=8)
    inp, tgt, mask = seq[:, :-1], seq[:, 1:], real[:, 1:].float()
    logits = logits_for(tgt).requires_grad_()
    assert judge("cross_entropy", ((inp,), {}), input=logits.reshape(-1, V), target=tgt.reshape(-1),
                 reduction="none") == {}  # the call alone cannot tell: the caller reduces
    per_token = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), reduction="none")
    for masked in ((per_token * mask.reshape(-1)).sum() / mask.sum(), per_token[mask.reshape(-1) > 0].mean(),
                   per_token.masked_fill(mask.reshape(-1) == 0, 0.0).sum() / mask.sum(),
                   F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=0, reduction="none").sum() / mask.sum()):
        assert judge_graph(masked, ((inp,), {})) == {}


def test_unpadded_language_model_chunks():
    text = torch.randint(0, V, (20_000,), generator=torch.Generator().manual_seed(9))
    text[::7] = 4  # a frequent "space" token
    starts = torch.randint(0, 20_000 - 33, (16,), generator=torch.Generator().manual_seed(10))
    x = torch.stack([text[s:s + 32] for s in starts])
    y = torch.stack([text[s + 1:s + 33] for s in starts])
    assert judge("cross_entropy", ((x,), {}), input=logits_for(y).reshape(-1, V), target=y.reshape(-1)) == {}


def test_imbalanced_classification_without_sequences():
    y = (torch.rand(256, generator=torch.Generator().manual_seed(11)) < 0.05).long()
    assert judge("cross_entropy", ((torch.randn(256, 12),), {}), input=torch.randn(256, 2), target=y) == {}
    tokens = torch.randint(0, V, (256, 12))  # a sequence per sample, one label per sequence
    assert judge("cross_entropy", ((tokens,), {}), input=torch.randn(256, 2), target=y) == {}


def test_short_sentences_that_all_end_in_one_token():
    ids = torch.randint(5, V, (64, 6))
    ids[:, -1] = 3  # "." closes every sentence
    tags = torch.randint(1, 4, (64, 6))
    tags[:, -1] = 0  # ... and is tagged O
    assert judge("cross_entropy", ((ids,), {}), input=torch.randn(64, V, 6), target=tags) == {}


def test_labels_passed_to_the_model_are_not_its_padding():
    ids = torch.randint(5, V, (32, 20))
    tags = torch.zeros(32, 20, dtype=torch.long)  # entity tags early in each sentence, O until the end
    tags[:, :3] = torch.randint(1, 5, (32, 3))
    assert judge("cross_entropy", ((ids,), {"labels": tags}), input=torch.randn(32, V, 20), target=tags) == {}


# ── severity follows the share of the loss spent on padding ─────────────────
def test_error_when_padding_is_most_of_the_counted_targets_else_warning():
    from traindoctor.judge.loss import check
    from traindoctor.measure.recorder import Recorder

    def severity(low, high):
        seq, _ = padded(32, 40, pad=0, low=low, high=high, seed=12)
        inp, tgt = seq[:, :-1], seq[:, 1:]
        rec = Recorder()
        rec.loss_calls = {"cross_entropy": 1}
        seen = observe_call("cross_entropy", {"input": logits_for(tgt).reshape(-1, V), "target": tgt.reshape(-1)},
                            (None, (inp,), {}))
        rec.loss_observations = [{**seen, "step": 0, "location": {}}]
        return [(f.code, f.severity, round(f.evidence["counted_share"], 1)) for f in check(rec)]

    assert severity(3, 9) == [("padding-in-loss", "error", 0.8)]
    assert severity(20, 36) == [("padding-in-loss", "warning", 0.3)]
