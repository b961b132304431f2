"""diagnosis/shift.py: the input the targets are, its time axis and the shift, read off the batch on
every layout; and the tasks that are no next-step task (shift 0, labels, constant inputs)."""
import pytest
import torch

from traindoctor.diagnosis.shift import find

B, T = 6, 10
gen = torch.Generator().manual_seed(0)
ids = torch.randint(0, 20, (B, T + 3), generator=gen)
series = torch.randn(B, T + 3, 3, generator=gen)
long_ids = torch.randint(0, 20, (B, 30), generator=gen)


def test_next_token_ids_batch_first_and_flattened():
    s = find(ids[:, :T], ids[:, 1:T + 1], B, 0)
    assert (s.name, s.time, s.steps, s.length, s.channels) == ("input", 1, 1, T, None)
    assert find(ids[:, :T], ids[:, 1:T + 1].reshape(-1), B, 0).steps == 1  # (B*T,) for the loss


def test_sequence_first_ids_flattened_in_their_order():
    x, y = ids[:, :T].t(), ids[:, 1:T + 1].t()  # (T, B)
    s = find(x, y.reshape(-1), B, 1)
    assert (s.time, s.steps, s.length) == (0, 1, T)


def test_float_series_channel_slice_several_steps_ahead():
    s = find(series[:, :T], series[:, 2:T + 2, :1], B, 0)  # the value of channel 0 two steps ahead
    assert (s.time, s.steps, s.channels) == (1, 2, (0,))
    s = find(series[:, :T], series[:, 1:T + 1][..., [2, 0]].reshape(B * T, 2), B, 0)  # flattened (B*T, F)
    assert (s.steps, s.channels) == (1, (2, 0))


def test_sequence_first_floats():
    x, y = series[:, :T].transpose(0, 1), series[:, 3:T + 3].transpose(0, 1)  # (T, B, F), three ahead
    s = find(x, y, B, 1)
    assert (s.time, s.steps, s.channels) == (0, 3, None)


def test_conv1d_channels_first_and_a_shorter_target():
    x = series.transpose(1, 2)  # (B, C, T+3)
    s = find(x[..., :T], x[:, 1:2, 1:T + 1], B, 0)
    assert (s.time, s.steps, s.channels) == (2, 1, (1,))
    s = find(x[..., :T], x[..., 4:T + 1], B, 0)  # a valid convolution of width 4 scores outputs T - 3 long
    assert (s.time, s.steps, s.length) == (2, 4, T - 3)


def test_dict_batch_labels_equal_to_the_ids_are_shifted_inside_the_model():
    s = find({"input_ids": ids[:, :T], "labels": ids[:, :T]}, None, B, 0)
    assert (s.name, s.steps, s.length) == ("input_ids", 1, T - 1)
    seq2seq = {"input_ids": long_ids[:, :T], "decoder_input_ids": ids[:, :T], "labels": ids[:, 1:T + 1]}
    s = find(seq2seq, None, B, 0)  # labels shifted right into the decoder's input: scored as they are
    assert (s.name, s.steps, s.length) == ("decoder_input_ids", 1, T)


def test_a_one_hot_input_is_read_as_its_tokens():
    x = torch.nn.functional.one_hot(ids[:, :T], 20).float()  # (B, T, V)
    s = find(x, ids[:, 1:T + 1].reshape(-1), B, 0)
    assert (s.time, s.steps, s.tensor is x) == (1, 1, True)
    soft = x * 0.9 + 0.1 / 20  # smoothed: no longer tokens
    assert find(soft, ids[:, 1:T + 1].reshape(-1), B, 0) is None


def test_the_target_passed_to_the_model_is_not_the_input_it_reads():
    s = find((ids[:, :T], ids[:, 1:T + 1]), ids[:, 1:T + 1].reshape(-1), B, 0)
    assert (s.name, s.steps) == ("arg0", 1)


def test_inputs_standardised_apart_from_raw_targets():
    raw = series * 4 + 20  # the targets in the data's units, the inputs standardised for the model
    s = find((raw[:, :T] - 20) / 4, raw[:, 1:T + 1, :1], B, 0)
    assert (s.steps, s.channels) == (1, (0,))
    assert find((raw[:, :T] - 20) / 4, raw[:, :T], B, 0) is None  # an autoencoder in other units: shift 0
    assert find(series[:, :T], series[:, 1:T + 1].tanh(), B, 0) is None  # no affine map of the input


@pytest.mark.parametrize("inputs, targets", [
    (series[:, :T], series[:, :T]),                                      # an autoencoder: shift 0
    (series[:, :T].transpose(0, 1), series[:, :T].transpose(0, 1)),      # the same, sequence-first
    (ids[:, :T], ids[:, 1:T + 1] % 3),                                   # per-position labels of the next token
    (ids[:, :T], (ids[:, :T] > 9).long()),                               # tagging
    (series[:, :T], series[:, :T, 0].sum(1) > 0),                        # a label per sequence
    (long_ids[:, :20], long_ids[:, 9:29]),                               # nine steps ahead: past CAUSAL_MAX_SHIFT
    (torch.zeros(B, T, 2), torch.zeros(B, T, 1)),                        # a constant input matches anything
])
def test_no_next_step_task(inputs, targets):
    assert find(inputs, targets, B, 0) is None


def test_targets_the_loss_ignores_match_anything():
    y = ids[:, 1:T + 1].clone()
    y[:, -3:] = -100  # padding the loss skips
    assert find(ids[:, :T], y.reshape(-1), B, 0).steps == 1
    assert find(ids[:, :T], torch.full((B, T), -100), B, 0) is None
