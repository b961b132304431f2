"""A module's state cut between its calls within one forward: three ways of cutting (a GRU cell's state
detached at every step, only an LSTM cell's c detached, a hand-written cell that stores its state on itself
with `.data`), against look-alikes that learn through time or cut something else: the state kept whole, cut
every few steps, a detached prediction fed back as the next input, a state carried in from the previous batch,
fixed-point iterations run under no_grad."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from traindoctor.diagnosis import state_path
from traindoctor.judge.gradient_path import judge_state

T, B = 6, 5


class GRULoop(nn.Module):
    """A GRU cell unrolled over time; `every`: the state detached every that many steps (0: never)."""

    def __init__(self, every: int):
        super().__init__()
        self.cell, self.head, self.every = nn.GRUCell(3, 8), nn.Linear(8, 2), every

    def forward(self, x):
        h = torch.zeros(x.shape[0], 8)
        for t in range(x.shape[1]):
            if self.every and t % self.every == 0:
                h = h.detach()
            h = self.cell(x[:, t], h)
        return self.head(h)


class LSTMHalf(nn.Module):
    """Two stacked LSTM cells; with `cut`, only their cell states are detached at each step."""

    def __init__(self, cut: bool):
        super().__init__()
        self.l1, self.l2, self.fc, self.cut = nn.LSTMCell(3, 6), nn.LSTMCell(6, 6), nn.Linear(6, 2), cut

    def forward(self, x):
        h1 = c1 = h2 = c2 = torch.zeros(x.shape[0], 6)
        for t in range(x.shape[1]):
            h1, c1 = self.l1(x[:, t], (h1, c1.detach() if self.cut else c1))
            h2, c2 = self.l2(h1, (h2, c2.detach() if self.cut else c2))
        return self.fc(h2)


class Stored(nn.Module):
    """A tanh cell that keeps its state on itself between calls; with `cut`, stored as `.data`."""

    def __init__(self, cut: bool):
        super().__init__()
        self.inp, self.rec, self.cut, self.state = nn.Linear(1, 7), nn.Linear(7, 7), cut, None

    def forward(self, x):
        h = torch.tanh(self.inp(x) + self.rec(self.state))
        self.state = h.data if self.cut else h
        return h


class Streaming(nn.Module):
    def __init__(self, cut: bool):
        super().__init__()
        self.cell, self.out = Stored(cut), nn.Linear(7, 1)

    def forward(self, x):  # (T, B)
        self.cell.state = torch.zeros(x.shape[1], 7)
        return torch.cat([self.out(self.cell(x[t, :, None])) for t in range(x.shape[0])], 1)


class Step(nn.Module):
    """A decoder's step as one module: the cell and its projection, the prediction its first output."""

    def __init__(self):
        super().__init__()
        self.cell, self.proj = nn.GRUCell(1, 8), nn.Linear(8, 1)

    def forward(self, inp, h):
        h = self.cell(inp, h)
        return self.proj(h), h


class Decoder(nn.Module):
    """A free-running decoder: its prediction fed back detached as the next input, the state carried whole.
    `step`: the cell and projection called as one module, whose own output is then the prediction."""

    def __init__(self, step: bool):
        super().__init__()
        self.step = Step() if step else None
        self.cell, self.proj = nn.GRUCell(1, 8), nn.Linear(8, 1)

    def forward(self, x):
        h, inp, preds = torch.zeros(x.shape[0], 8), x, []
        for _ in range(T):
            if self.step is not None:
                y, h = self.step(inp, h)
            else:
                h = self.cell(inp, h)
                y = self.proj(h)
            preds.append(y)
            inp = y.detach()
        return torch.cat(preds, 1)


class Carried(nn.Module):
    """Truncated BPTT: an LSTM given the previous batch's state, detached between steps."""

    def __init__(self):
        super().__init__()
        self.rnn, self.fc = nn.LSTM(3, 6, batch_first=True), nn.Linear(6, 2)

    def forward(self, x, state):
        out, _ = self.rnn(x, tuple(s.detach() for s in state))
        return self.fc(out[:, -1])


class FixedPoint(nn.Module):
    """A deep-equilibrium layer: iterations to the fixed point under no_grad, one differentiable step after."""

    def __init__(self):
        super().__init__()
        self.f, self.inj, self.head = nn.Linear(6, 6), nn.Linear(3, 6), nn.Linear(6, 2)

    def forward(self, x):
        u = self.inj(x[:, 0])
        z = torch.zeros_like(u)
        with torch.no_grad():
            for _ in range(5):
                z = torch.tanh(0.5 * self.f(z) + u)
        return self.head(torch.tanh(0.5 * self.f(z) + u))


class KeptWeight(nn.Module):
    """A cell that normalises its recurrent weight under no_grad and keeps it on itself for its next call: a cut
    of a weight (the zero-gradient-path experiment's question), not of a state; the state is carried whole."""

    def __init__(self):
        super().__init__()
        self.inp, self.rec, self.kept = nn.Linear(3, 6), nn.Linear(6, 6, bias=False), None

    def forward(self, x, h):
        w = self.kept if self.kept is not None else self.rec.weight
        with torch.no_grad():
            self.kept = self.rec.weight / self.rec.weight.norm()
        return torch.tanh(self.inp(x) + h @ w.T + self.rec(h))


class KeptLoop(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell, self.head = KeptWeight(), nn.Linear(6, 2)

    def forward(self, x):
        self.cell.kept, h = None, torch.zeros(x.shape[0], 6)
        for t in range(x.shape[1]):
            h = self.cell(x[:, t], h)
        return self.head(h)


def _measured(model, *args, target=None):
    torch.manual_seed(0)
    for p in model.parameters():
        nn.init.normal_(p, std=0.5)
    y = torch.randn(B, 2) if target is None else target
    return state_path.measure(model, lambda out, params: F.mse_loss(out, y), (args, {}))


def _judged(measured):
    return judge_state(measured, "run", "warning")[0] if measured is not None else []


def _x():
    return torch.randn(B, T, 3, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("make, args, module", [
    (lambda: GRULoop(every=1), lambda: (_x(),), "cell"),
    (lambda: LSTMHalf(cut=True), lambda: (_x(),), "l1"),
    (lambda: Streaming(cut=True), lambda: (torch.randn(T, B),), "cell"),
])
def test_a_state_cut_at_every_call_is_named(make, args, module):
    model = make()
    a = args()
    target = torch.randn(B, T) if isinstance(model, Streaming) else None
    found = _judged(_measured(model, *a, target=target))
    assert found and found[0].code == "graph-break" and found[0].evidence["module"] == module
    assert found[0].severity == "warning" and found[0].location.get("line")


@pytest.mark.parametrize("make, args", [
    (lambda: GRULoop(every=0), lambda: (_x(),)),  # the state kept whole
    (lambda: GRULoop(every=3), lambda: (_x(),)),  # cut every few steps, the graph kept between: on purpose
    (lambda: LSTMHalf(cut=False), lambda: (_x(),)),
    (lambda: Streaming(cut=False), lambda: (torch.randn(T, B),)),
    (lambda: Decoder(step=False), lambda: (torch.randn(B, 1),)),  # a detached prediction, not the state
    (lambda: Decoder(step=True), lambda: (torch.randn(B, 1),)),  # ... the step's own output, read by the loss as-is
    (Carried, lambda: (_x(), (torch.randn(1, B, 6), torch.randn(1, B, 6)))),  # the cut is between batches
    (FixedPoint, lambda: (_x(),)),
    (KeptLoop, lambda: (_x(),)),
])
def test_look_alikes_stay_quiet(make, args):
    model = make()
    target = torch.randn(B, T) if isinstance(model, (Streaming, Decoder)) else None
    assert _judged(_measured(model, *args(), target=target)) == []


def test_a_state_the_loss_does_not_read_is_not_a_cut():
    """A cell that stores a detached copy of its state that no later call reads (a value kept for logging)."""

    class Logged(GRULoop):
        def forward(self, x):
            h = torch.zeros(x.shape[0], 8)
            for t in range(x.shape[1]):
                h = self.cell(x[:, t], h)
                self.cell.last = h.detach()
            return self.head(h)

    m = _measured(Logged(every=0), _x())
    assert _judged(m) == []
    assert m is None or not any(r["moves_loss"] for r in judge_state(m, "run", "warning")[1]["measured"]["modules"])
