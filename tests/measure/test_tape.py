"""The loss head on tape: recorded while a script trains, it recomputes the step's loss on a copy's outputs
exactly — for torch loss functions and hand-written losses alike — and changes nothing of the training."""
import copy
import textwrap

import pytest
import torch

from traindoctor.measure.hooks import installed
from traindoctor.measure.recorder import Recorder

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

# Differently shaped heads: a loss function on a view of the output, a distribution's log-probability with a
# penalty on the weights, a tuple output (a VAE) with a hand-written KL, a sequence-first output reshaped,
# and an in-place write into a buffer.
HEADS = {
    "view-into-cross-entropy": ("""
net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 5))
x, y = torch.randn(24, 6), torch.randint(0, 5, (24,))
def loss_of(out): return F.cross_entropy(out.view(-1, 5), y)
""", "net(x)"),
    "distribution-and-penalty": ("""
net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
x, a, ret = torch.randn(32, 4), torch.randint(0, 3, (32,)), torch.randn(32)
def loss_of(out):
    logp = torch.distributions.Categorical(logits=out).log_prob(a)
    return -(logp * ret).mean() + 1e-3 * sum((p ** 2).sum() for p in net.parameters())
""", "net(x)"),
    "tuple-output-vae": ("""
class VAE(nn.Module):
    def __init__(self):
        super().__init__(); self.enc = nn.Linear(10, 4); self.dec = nn.Linear(2, 10)
    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.dec(z), mu, logvar
net = VAE(); x = torch.rand(16, 10)
def loss_of(out):
    recon, mu, logvar = out
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1).mean()
    return F.mse_loss(recon, x) + kl
""", "net(x)"),
    "sequence-first-reshape": ("""
net = nn.LSTM(3, 7)
x, y = torch.randn(9, 4, 3), torch.randn(9 * 4, 7)
def loss_of(out): return ((out[0].reshape(-1, 7) - y) ** 2).mean()
""", "net(x)"),
    "inplace-buffer": ("""
net = nn.Linear(5, 2)
x, y = torch.randn(12, 5), torch.randn(12)
def loss_of(out):
    buf = torch.zeros(12); buf[:] = out[:, 0] - out[:, 1]
    return F.smooth_l1_loss(buf, y)
""", "net(x)"),
}


def _train(source: str, call: str, steps: int = 3):
    g: dict = {"__name__": "__main__"}
    exec(textwrap.dedent(PRELUDE + source), g)
    g["opt"] = torch.optim.SGD(g["net"].parameters(), lr=0.01)
    rec = Recorder(max_steps=0)
    printed = []
    with installed(rec):
        for _ in range(steps):
            torch.manual_seed(1)
            out = eval(call, g)
            loss = g["loss_of"](out)
            printed.append(float(loss))
            g["opt"].zero_grad()
            loss.backward()
            g["opt"].step()
    return g, rec, printed


@pytest.mark.parametrize("head", HEADS)
def test_tape_recomputes_the_loss_exactly(head):
    source, call = HEADS[head]
    g, rec, _ = _train(source, call)
    tapes = rec.tapes[id(g["net"])]
    assert tapes, "no tape recorded"
    tape = tapes[-1]
    replica = copy.deepcopy(g["net"])
    args, kwargs = tape.batch
    torch.manual_seed(1)
    replayed = tape.loss_of(replica(*args, **kwargs), dict(replica.named_parameters()))
    torch.manual_seed(1)
    expected = g["loss_of"](g["net"](*args, **kwargs))
    assert torch.allclose(replayed, expected)
    before = [p.grad.clone() for p in g["net"].parameters()]
    replica.zero_grad(set_to_none=True)
    replayed.backward()  # its gradient reaches the copy's weights, and only the copy's
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in replica.parameters())
    assert all(torch.equal(b, p.grad) for b, p in zip(before, g["net"].parameters()))


@pytest.mark.parametrize("head", HEADS)
def test_recording_leaves_the_training_unchanged(head):
    source, call = HEADS[head]
    _, _, watched = _train(source, call)
    g: dict = {"__name__": "__main__"}
    exec(textwrap.dedent(PRELUDE + source), g)
    opt = torch.optim.SGD(g["net"].parameters(), lr=0.01)
    plain = []
    for _ in range(3):
        torch.manual_seed(1)
        loss = g["loss_of"](eval(call, g))
        plain.append(float(loss))
        opt.zero_grad(); loss.backward(); opt.step()
    assert watched == plain
    assert torch._C._len_torch_function_stack() == 0  # no mode left behind


def test_data_only_drops_the_penalty_and_keeps_the_data_term():
    g, rec, _ = _train(HEADS["distribution-and-penalty"][0], "net(x)")
    tape = rec.tapes[id(g["net"])][-1]
    assert tape.penalized
    net = g["net"]
    out = net(g["x"])
    params = dict(net.named_parameters())
    data = -(torch.distributions.Categorical(logits=out).log_prob(g["a"]) * g["ret"]).mean()
    assert torch.allclose(tape.loss_of(out, params, data_only=True), data)
    assert not torch.allclose(tape.loss_of(out, params), data)


def test_a_loss_made_from_numbers_gives_no_tape():
    """The loss rebuilt from .item() (a graph break) does not derive from the outputs: nothing to replay."""
    g, rec, _ = _train("""
net = nn.Linear(3, 1)
x = torch.randn(8, 3)
def loss_of(out): return torch.tensor(float(out.mean()) ** 2, requires_grad=True)
""", "net(x)")
    assert not rec.tapes.get(id(g["net"]))


def test_unpenalized_head_is_not_penalized():
    g, rec, _ = _train(HEADS["view-into-cross-entropy"][0], "net(x)")
    assert not rec.tapes[id(g["net"])][-1].penalized


def test_warnings_from_the_loss_head_show_as_without_traindoctor(tmp_path):
    """A warning raised by a call the tape records (float() of a tensor requiring grad) is shown once, from the
    script's line — not from traindoctor's handler, and not again because a record of shown warnings was reset."""
    import subprocess
    import sys

    script = tmp_path / "warns.py"
    script.write_text(textwrap.dedent("""
        import torch, torch.nn as nn, torch.nn.functional as F
        net = nn.Linear(3, 2); opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x = torch.randn(4, 3); y = torch.randint(0, 2, (4,))
        for i in range(30):
            loss = F.cross_entropy(net(x), y)
            value = float(loss)
            opt.zero_grad(); loss.backward(); opt.step()
    """))
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120).stderr
    watched = subprocess.run([sys.executable, "-m", "traindoctor", "run", "--no-probes", "--no-experiments", str(script)],
                             capture_output=True, text=True, timeout=120).stderr
    assert plain.count("UserWarning") == 1
    assert watched.count("UserWarning") == 1 and f"{script}:7: UserWarning" in watched, watched
    assert "traindoctor" not in watched.split("UserWarning")[0]


@pytest.mark.parametrize("loss, target", [
    ("((out - y) ** 2).mean()", "y"),                        # a regression written by hand
    ("(y - out).abs().sum()", "y"),                          # the target first
    ("((ret - out.squeeze(1)[:, None].expand(8, 1).squeeze(1)) ** 2).mean()", "ret"),  # through views
    ("((out - y) ** 2).mean() + ((out - z) ** 2).mean()", None),  # two targets: not one tensor
    ("F.mse_loss(out, y)", None),                            # a torch loss function names its own target
    ("(out ** 2).mean() + 0.1 * sum(((p - 1) ** 2).sum() for p in net.parameters())", None),  # a penalty, no target
])
def test_the_tensor_a_hand_written_loss_compares_the_outputs_with(loss, target):
    source = f"""
net = nn.Linear(3, 1)
x, y, z, ret = torch.randn(8, 3), torch.randn(8, 1), torch.randn(8, 1), torch.randn(8)
def loss_of(out): return {loss}
"""
    g, rec, _ = _train(source, "net(x)")
    found = rec.tapes[id(g["net"])][-1].compared_target()
    assert (found is None) if target is None else torch.equal(found, g[target])


@pytest.mark.parametrize("loop, partial", [
    ("out = net(x); loss_of(out).backward()", False),                                    # one call, one loss
    ("out = net(x); loss_of(out).backward(); out = net(x2); loss_of(out).backward()", False),  # two micro-batches
    ("a = net(x); b = net(x2); (loss_of(a) + loss_of(b)).backward()", True),            # two calls, one loss
])
def test_a_tape_is_partial_when_the_model_was_called_before_in_the_same_loss(loop, partial):
    g: dict = {"__name__": "__main__"}
    exec(textwrap.dedent(PRELUDE + """
net = nn.Linear(3, 1)
x, x2, y = torch.randn(8, 3), torch.randn(8, 3), torch.randn(8, 1)
def loss_of(out): return F.mse_loss(out, y)
"""), g)
    rec = Recorder(max_steps=0)
    with installed(rec):
        opt = torch.optim.SGD(g["net"].parameters(), lr=0.01)
        for _ in range(3):
            opt.zero_grad()
            exec(loop, g)
            opt.step()
    assert [t.partial for t in rec.tapes[id(g["net"])]] and all(t.partial == partial for t in rec.tapes[id(g["net"])])


@pytest.mark.parametrize("target, layout", [
    ("y[:, 1:].flatten()", (4, 6)),                 # a copy of a slice: the call read a (B, T) layout
    ("y[:, 1:].t().reshape(-1)", (6, 4)),           # a copy of a transpose: (T, B)
    ("y[:, 1:].contiguous().view(-1)", (4, 6)),     # a view of a whole tensor
    ("y[:, 1:].contiguous()[0].repeat(4)", None),   # not a reshape: no layout to tell
])
def test_a_flat_target_keeps_the_layout_it_was_reshaped_from(target, layout):
    source = f"""
net = nn.Linear(3, 5)
x, y = torch.randn(4, 6, 3), torch.randint(0, 5, (4, 7))
def loss_of(out): return F.cross_entropy(out.reshape(-1, 5), {target})
"""
    g, rec, _ = _train(source, "net(x)")
    (_, const), = rec.tapes[id(g["net"])][-1].target_consts({"cross_entropy"})
    assert const.base_shape == layout


def test_the_tensors_a_loss_combines_entry_by_entry_with_the_outputs():
    source = """
net = nn.Linear(3, 4)
x, y, mask, w = torch.randn(6, 3), torch.randint(0, 4, (6, 1)), torch.rand(6), torch.rand(4)
def loss_of(out):
    picked = F.log_softmax(out * w, -1).gather(1, y).squeeze(1)      # w broadcast: a weight, not compared
    return -(picked * mask).sum()
"""
    g, rec, _ = _train(source, "net(x)")
    found = {name: const.value for name, const in rec.tapes[id(g["net"])][-1].entrywise_consts()}
    assert set(found) == {"gather", "mul"} and torch.equal(found["gather"], g["y"]) and torch.equal(found["mul"], g["mask"])


GAUSSIAN_POLICY = """
net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
x, w = torch.randn(32, 4), torch.randn(4, 2)
def loss_of(out):
    d = torch.distributions.Normal(out, 0.5)
    a = d.sample()
    r = -((a - x @ w) ** 2).sum(1)
    return -(d.log_prob(a).sum(1) * (r - r.mean()) / r.std()).mean()
"""


@pytest.mark.parametrize("as_recorded", [True, False])
def test_a_call_made_without_gradient_is_replayed_without_gradient(as_recorded):
    """A Gaussian policy's draw is made under no_grad inside sample(): it, and the reward and the batch's spread
    computed from it, carry no gradient in the script, nor in the replay — an experiment that holds what the loss
    computed without gradient (the loss-independence probe) holds them. Replayed with gradients (`as_recorded`
    False) they would move with the outputs."""
    g, rec, _ = _train(GAUSSIAN_POLICY, "net(x)")
    tape = rec.tapes[id(g["net"])][-1]
    if not as_recorded:
        for op in tape.ops:
            op.grad = True
    out = g["net"](g["x"]).detach().requires_grad_(True)
    with torch.enable_grad():
        values = tape.values_of(out)
    drawn = [values[op.outs[0]] for op in tape.ops if op.func.__name__ in ("normal", "std")]
    assert len(drawn) == 2
    assert all(not v.requires_grad for v in drawn) == as_recorded
    assert values[tape.loss].requires_grad
