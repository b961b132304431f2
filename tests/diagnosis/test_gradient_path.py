"""Does the gradient describe the loss? Parameters whose path to the loss is cut — nine ways of cutting,
three shapes of model — are told from parameters that take no part in it, and a custom backward that is
not its forward's derivative from one that is."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from traindoctor.diagnosis import gradient_path
from traindoctor.judge.gradient_path import judge


class Cut(nn.Module):
    """An encoder and a head; `how` cuts (or not) the path between them."""

    def __init__(self, how: str, shape: str = "mlp"):
        super().__init__()
        self.how = how
        if shape == "conv":
            self.enc = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten())
            width = 4 * 6 * 6
        elif shape == "rnn":
            self.enc = nn.GRU(5, 8, batch_first=True)
            width = 8
        else:
            self.enc = nn.Sequential(nn.Linear(6, 16), nn.Tanh())
            width = 16
        self.shape = shape
        self.head = nn.Linear(width, 3)
        self.spare = nn.Linear(3, 3)  # never called: takes no part in the loss
        if how == "choice":  # an argmax picks a row of an embedding the loss trains
            self.rows = nn.Embedding(width, width)

    def encode(self, x):
        h = self.enc(x)
        return h[0][:, -1] if self.shape == "rnn" else h

    def forward(self, x):
        if self.how == "no_grad":
            with torch.no_grad():
                h = self.encode(x)
        else:
            h = self.encode(x)
        if self.how == "detach":
            h = h.detach()
        elif self.how == "data":
            h = h.data
        elif self.how == "round":
            h = torch.round(h * 4) / 4
        elif self.how == "item":
            h = torch.tensor(h.tolist())
        elif self.how == "sample":
            h = torch.distributions.Normal(h, 0.1).sample()
        elif self.how == "argmax":
            h = F.one_hot(h.argmax(-1), h.shape[-1]).float()
        elif self.how == "choice":
            h = self.rows(h.argmax(-1))
        elif self.how == "bernoulli":
            h = torch.bernoulli(torch.sigmoid(h))
        return self.head(h)


INPUTS = {"mlp": lambda: torch.randn(16, 6), "conv": lambda: torch.randn(16, 1, 8, 8),
          "rnn": lambda: torch.randn(16, 7, 5)}


def _measure(model, x, y, held=None):
    held = held if held is not None else [n for n, _ in model.named_parameters()]
    return gradient_path.measure(model, lambda out, params: F.cross_entropy(out, y), ((x,), {}), held)


@pytest.mark.parametrize("shape", INPUTS)
@pytest.mark.parametrize("how", ["detach", "data", "no_grad", "round", "item", "sample", "argmax", "choice",
                                 "bernoulli"])
def test_a_cut_path_is_named_with_the_call_that_cuts_it(how, shape):
    torch.manual_seed(0)
    model, x, y = Cut(how, shape), INPUTS[shape](), torch.randint(0, 3, (16,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    found, observations = judge(_measure(model, x, y), "run", "error")
    assert [f.code for f in found] == ["graph-break"]
    f = found[0]
    encoder = {n for n, _ in model.enc.named_parameters(prefix="enc")}
    # A draw is flat in its probabilities under fixed noise: a move flips some draws, not every tensor's.
    assert set(f.evidence["cut"]) <= encoder if how == "bernoulli" else set(f.evidence["cut"]) == encoder
    assert f.evidence["cuts"] and f.evidence["cuts"][0]["file"] == __file__
    assert "spare" not in str(f.evidence["cut"])  # unused, not cut
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # moved, then put back
    path = next(o for o in observations if o["name"] == "zero-gradient-path")
    assert path["keeps"] and "descent-step" in {o["name"] for o in observations}


@pytest.mark.parametrize("shape", INPUTS)
def test_connected_and_unused_parameters_are_not_cut(shape):
    torch.manual_seed(0)
    model, x, y = Cut("none", shape), INPUTS[shape](), torch.randint(0, 3, (16,))
    measured = _measure(model, x, y)
    found, observations = judge(measured, "run", "error")
    assert found == []
    assert measured["zero_gradient"] == ["spare.weight", "spare.bias"]
    path = next(o for o in observations if o["name"] == "zero-gradient-path")
    assert path["kills"] == ["the path from some of the weights to the loss is cut (.detach(), .data, torch.no_grad(), a rounding)"]
    descent = next(o for o in observations if o["name"] == "descent-step")
    assert descent["kills"] and not descent["keeps"]


def test_parameters_outside_the_optimizer_or_frozen_are_not_judged():
    torch.manual_seed(0)
    model, x, y = Cut("detach"), torch.randn(16, 6), torch.randint(0, 3, (16,))
    assert judge(_measure(model, x, y, held=["head.weight", "head.bias"]), "run", "error")[0] == []
    model.enc.requires_grad_(False)  # frozen on purpose
    assert judge(_measure(model, x, y), "run", "error")[0] == []


def test_dead_units_are_flat_not_cut():
    torch.manual_seed(0)
    enc = nn.Linear(6, 16)
    with torch.no_grad():
        enc.bias.fill_(-50.0)  # every unit dead on every sample: the loss does not depend on enc here
    model = nn.Sequential(enc, nn.ReLU(), nn.Linear(16, 3))
    measured = _measure(model, torch.randn(16, 6), torch.randint(0, 3, (16,)))
    assert set(measured["zero_gradient"]) == {"0.weight", "0.bias", "2.weight"}  # its inputs are all zero
    assert judge(measured, "run", "error")[0] == []


def test_an_answer_the_loss_does_not_read_is_not_where_its_path_stops():
    """Dead units feed an argmax the model returns beside its logits, and a distribution checks its arguments
    (a comparison): neither answer reaches the loss, so neither is a cut of its path."""
    torch.manual_seed(0)
    enc = nn.Linear(6, 16)
    with torch.no_grad():
        enc.bias.fill_(-50.0)
    body = nn.Sequential(enc, nn.ReLU(), nn.Linear(16, 3))

    class Both(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body

        def forward(self, x):
            logits = self.body(x)
            torch.distributions.Normal(logits, torch.ones_like(logits), validate_args=True)
            return logits, logits.argmax(-1)

    model, y = Both(), torch.randint(0, 3, (16,))
    measured = gradient_path.measure(model, lambda out, params: F.cross_entropy(out[0], y), ((torch.randn(16, 6),), {}),
                                     [n for n, _ in model.named_parameters()])
    assert "body.0.weight" in measured["zero_gradient"]
    assert judge(measured, "run", "error")[0] == []


def test_stop_gradient_targets_from_the_same_model_are_not_cut():
    """A semi-gradient TD target or a BYOL-style target: the model's own output, detached, as the target.
    Every parameter still gets a gradient through the prediction."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    x, x2 = torch.randn(16, 6), torch.randn(16, 6)

    def td(out, params):
        target = 0.9 * model(x2).max(1).values.detach() + 1.0
        return F.mse_loss(out.max(1).values, target)

    measured = gradient_path.measure(model, td, ((x,), {}), [n for n, _ in model.named_parameters()])
    assert measured["zero_gradient"] == []
    assert judge(measured, "run", "error")[0] == []


class _Scale(torch.autograd.Function):
    """y = 3x; `flip` gives a backward with the wrong sign."""

    @staticmethod
    def forward(ctx, x, flip):
        ctx.flip = flip
        return 3 * x

    @staticmethod
    def backward(ctx, g):
        return (-3 if ctx.flip else 3) * g, None


@pytest.mark.parametrize("flip", [True, False])
def test_a_custom_backward_that_climbs_is_named(flip):
    torch.manual_seed(0)
    lin = nn.Linear(6, 3)
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))

    def loss(out, params):
        return F.cross_entropy(_Scale.apply(out, flip), y)

    measured = gradient_path.measure(lin, loss, ((x,), {}), ["weight", "bias"])
    assert measured["custom_functions"] == ["_Scale"]
    found, observations = judge(measured, "run", "error")
    assert [f.code for f in found] == (["bad-custom-gradient"] if flip else [])
    descent = next(o for o in observations if o["name"] == "descent-step")
    assert bool(descent["keeps"]) == flip and bool(descent["kills"]) != flip


def test_no_random_stream_of_the_script_is_drawn():
    torch.manual_seed(5)
    state = torch.get_rng_state()
    model = Cut("detach")
    torch.set_rng_state(state)
    _measure(model, torch.zeros(16, 6), torch.zeros(16, dtype=torch.long))
    assert torch.equal(torch.get_rng_state(), state)
