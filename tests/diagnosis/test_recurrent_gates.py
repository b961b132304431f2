"""Saturated gates of recurrent layers: their sigmoids and tanhs run inside one fused op, so the activations
probe reads them from the input that drives them — the first layer's input-to-hidden part, with the weights
training started from when they are known."""
import pytest
import torch
from torch import nn

from traindoctor.diagnosis.battery import examine
from traindoctor.diagnosis.registry import Options

g = torch.Generator().manual_seed(0)
tokens = torch.randint(0, 20, (32, 12), generator=g)
series = torch.randn(32, 12, 6, generator=g)


class Tokens(nn.Module):
    def __init__(self, rnn, scale=1.0):
        super().__init__()
        self.emb, self.rnn, self.head, self.scale = nn.Embedding(20, 16), rnn, nn.Linear(rnn.hidden_size, 2), scale

    def forward(self, x):
        return self.head(self.rnn(self.emb(x) * self.scale)[0][:, -1])


class Series(nn.Module):
    def __init__(self, rnn, scale=1.0):
        super().__init__()
        self.rnn, self.head, self.scale = rnn, nn.Linear(rnn.hidden_size, 1), scale

    def forward(self, x):
        return self.head(self.rnn(x * self.scale)[0])


def gates(model, x, **options):
    outcome = examine(model, (x, None), probes=("activations",), options=Options(**options))
    return [f.code for f in outcome.findings], outcome.records[0].get("layers", {})


@pytest.mark.parametrize("model, x", [
    (Tokens(nn.GRU(16, 32, batch_first=True), scale=100.0), tokens),       # an embedding scaled far up
    (Series(nn.LSTM(6, 24, batch_first=True), scale=300.0), series),        # raw readings in large units
    (Series(nn.RNN(6, 24, batch_first=True), scale=300.0), series),         # a plain tanh RNN
])
def test_an_input_that_pins_the_gates_is_saturation(model, x):
    found, layers = gates(model, x)
    assert found == ["saturated-activations"], layers
    assert layers["rnn (gates)"]["saturated_fraction"] >= 0.5


@pytest.mark.parametrize("model, x", [
    (Tokens(nn.GRU(16, 32, batch_first=True)), tokens),
    (Series(nn.LSTM(6, 24, batch_first=True)), series),
    (Series(nn.RNN(6, 24, batch_first=True, nonlinearity="relu"), scale=300.0), series),  # no bounded gate
])
def test_inputs_on_unit_scale_or_unbounded_units_are_quiet(model, x):
    assert gates(model, x)[0] == []


def test_gates_trained_into_saturation_from_a_healthy_start_are_quiet():
    """A trained LSTM may pin its gates on purpose; the question is whether its input did from the start."""
    model = Series(nn.LSTM(6, 24, batch_first=True))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.rnn.weight_ih_l0.mul_(300.0)  # where training took it
    assert gates(model, series)[0] == ["saturated-activations"]  # not knowing the start: as it is now
    assert gates(model, series, trained=True, start=start)[0] == []


def test_after_training_gates_pinned_from_the_start_follow_the_loss():
    """run reads the gates at the weights training started from: a forecast. Information while the loss learns
    (it learned despite them), an error once it does not."""
    from traindoctor.judge.probes import follow_consequence

    model = Tokens(nn.GRU(16, 32, batch_first=True), scale=100.0)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    outcome = examine(model, (tokens, None), probes=("activations",), options=Options(trained=True, start=start))
    found, = outcome.findings
    assert (found.code, found.severity) == ("saturated-activations", "info")
    assert follow_consequence([found], "the loss does not fall")[0].severity == "error"


def test_saturation_of_the_trained_model_is_not_made_an_error_by_a_stuck_loss():
    """Tanh units pinned on the trained model may be what the failure did (weights blown up by too high a rate):
    a stuck loss leaves that finding a warning, ranked behind its cause."""
    from traindoctor.judge.probes import follow_consequence

    head = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1))
    with torch.no_grad():
        head[0].weight.mul_(300.0)
    found, = examine(head, (torch.randn(32, 6, generator=g), None), probes=("activations",),
                     options=Options(trained=True, start=None)).findings
    assert found.severity == "warning" and follow_consequence([found], "the loss rises")[0].severity == "warning"



def _unit_normal(rnn, which=("weight",)):
    """nn.init.normal_ (std 1) on the chosen weights: far above the 1/sqrt(hidden) scale torch starts from."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            if any(w in name for w in which):
                nn.init.normal_(p)
    return rnn


@pytest.mark.parametrize("model, x", [
    (Series(_unit_normal(nn.LSTM(6, 512, batch_first=True))), series),               # every weight std 1
    (Tokens(_unit_normal(nn.GRU(16, 256, batch_first=True))), tokens),               # embedded tokens, a GRU
    (Series(_unit_normal(nn.RNN(6, 64), which=("weight_hh",))), series.transpose(0, 1)),  # time-first, W_hh only
])
def test_recurrent_weights_that_pin_the_gates_through_time_are_saturation(model, x):
    """The input alone keeps the gates off their bounds (unit-scale data, W_ih x small at the first step); the
    state fed back through std-1 recurrent weights pins them from the next steps on."""
    found, layers = gates(model, x)
    assert found == ["saturated-activations"], layers
    assert layers["rnn (gates)"]["saturated_fraction"] >= 0.5


def test_recurrent_layers_at_their_usual_scales_are_quiet():
    """torch's default, an orthogonal W_hh, and a forget gate biased open (the usual LSTM recipe)."""
    lstm = nn.LSTM(6, 64, batch_first=True)
    with torch.no_grad():
        nn.init.orthogonal_(lstm.weight_hh_l0)
        lstm.bias_hh_l0[64:128].fill_(1.0)
    for model, x in ((Series(lstm), series), (Tokens(nn.GRU(16, 256, batch_first=True)), tokens),
                     (Series(nn.RNN(6, 64)), series.transpose(0, 1))):
        found, layers = gates(model, x)
        assert found == [] and layers["rnn (gates)"]["saturated_fraction"] < 0.1, layers
