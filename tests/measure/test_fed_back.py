"""A model's own output fed back into its next call of the same step with its graph cut (measure/fed_back.py):
a recurrent cell's state detached inside the loop over time, in three shapes; not a state passed whole within
the step and detached between steps (truncated BPTT), nor a first pass run without gradient."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from traindoctor.measure.fed_back import FedBack


class HandRNN(nn.Module):
    """A hand-written recurrence: one step per call, returning the new state."""

    def __init__(self):
        super().__init__()
        self.inp, self.rec = nn.Linear(3, 8), nn.Linear(8, 8)

    def forward(self, x, h):
        return torch.tanh(self.inp(x) + self.rec(h))


def _leaves(*values):
    out = []
    for v in values:
        out += list(v) if isinstance(v, tuple) else [v]
    return out


def _steps(model, head, xs, state, cut, *, per_step=3, grad_first=True, window=1):
    """Runs `per_step` steps; in each, one call of `model` per time step of `xs`, the state cut by `cut`
    between calls (None: passed whole, detached only between steps)."""
    fb = FedBack()
    for _ in range(per_step):
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        loss = 0
        for t, x in enumerate(xs):
            with torch.set_grad_enabled(grad_first or t > 0):
                fb.called(_leaves(x, state), lambda: {"line": t})
                state = model(x, state)
                fb.returned(_leaves(state))
            h = state[0] if isinstance(state, tuple) else state
            loss = loss + F.mse_loss(head(h), torch.zeros(h.shape[0], 1))
            if cut is not None and (t + 1) % window == 0:
                state = tuple(cut(s) for s in state) if isinstance(state, tuple) else cut(state)
        fb.backward(loss)
    return fb


def _shapes():
    torch.manual_seed(0)
    yield nn.LSTMCell(3, 8), (torch.zeros(4, 8), torch.zeros(4, 8)), torch.randn(6, 4, 3)  # time-first
    yield nn.GRUCell(3, 8), torch.zeros(4, 8), torch.randn(4, 6, 3).unbind(1)  # batch-first, unbound
    yield HandRNN(), torch.zeros(4, 8), torch.randn(6, 4, 3)


def test_a_state_detached_inside_the_loop_over_time_is_counted():
    for cut in (torch.Tensor.detach, lambda s: s.data):
        for model, state, xs in _shapes():
            fb = _steps(model, nn.Linear(8, 1), xs, state, cut)
            assert (fb.steps, fb.fed_steps) == (3, 3), type(model).__name__
            assert fb.first_location == {"line": 1}


def test_a_state_passed_whole_within_the_step_is_not():
    for model, state, xs in _shapes():
        assert _steps(model, nn.Linear(8, 1), xs, state, None).steps == 0  # truncated BPTT between steps
        # detached every third call: the gradient goes back through the calls between
        assert _steps(model, nn.Linear(8, 1), xs, state, torch.Tensor.detach, window=3).steps == 0


def test_a_first_call_without_gradient_is_not_a_feedback():
    model, state, xs = next(_shapes())
    fb = _steps(model, nn.Linear(8, 1), xs[:2], state, torch.Tensor.detach, grad_first=False)
    assert fb.steps == 0
