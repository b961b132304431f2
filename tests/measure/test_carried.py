"""measure/carried.py on hand-built graphs: which step a node was built at, and when an earlier step's graph
counts as carried state."""
import torch
from torch import nn
from torch.utils._pytree import keystr

from traindoctor.measure import carried
from traindoctor.measure.leaves import nodes


def _stepped(model):
    return lambda since: {id(p): n for n, p in model.named_parameters()}


def test_a_node_returned_again_keeps_the_step_it_was_built_at():
    torch.manual_seed(0)
    cell = nn.GRUCell(3, 4)
    h = cell(torch.randn(2, 3))
    carried.stamp(cell, carried.flat_output(h), 0)
    carried.stamp(cell, carried.flat_output(h), 1)  # returned unchanged at the next step
    record, reached = carried.find([h.sum()], 1, _stepped(cell))
    assert record["built_step"] == 0 and record["steps_back"] == 1 and record["output"] == ""
    assert set(reached) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}


def test_an_earlier_graph_whose_weights_no_optimizer_stepped_since_is_not_carried():
    torch.manual_seed(0)
    gen, disc = nn.Linear(3, 2), nn.Linear(2, 1)
    fake = gen(torch.randn(5, 3))
    carried.stamp(gen, carried.flat_output(fake), 0)
    score = disc(fake)
    carried.stamp(disc, carried.flat_output(score), 1)  # after the discriminator's step
    assert carried.find([score.mean()], 1, _stepped(disc)) is None
    assert carried.find([score.mean()], 1, _stepped(gen))[0]["model"] == "Linear"


def test_the_output_is_named_by_its_place_in_the_models_output():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    out = lstm(torch.randn(6, 2, 3))
    carried.stamp(lstm, carried.flat_output(out), 0)
    record, _ = carried.find([out[1][0].sum()], 2, _stepped(lstm))
    assert record["output"] == "[1][0]" and record["shape"] == [1, 2, 4] and record["steps_back"] == 2


def test_the_walk_is_bounded_by_nodes():
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(50):
        y = y * 1.5
    assert len(list(nodes(y.grad_fn, max_nodes=10))) == 10
    assert len(list(nodes(y.grad_fn))) == 51  # 50 products and the leaf's AccumulateGrad


class _Stateful(nn.Module):
    """A recurrent state kept on the module between calls, never returned."""
    def __init__(self):
        super().__init__()
        self.cell, self.memory = nn.GRUCell(3, 4), {}

    def forward(self, x):
        self.memory["h"] = self.cell(x, self.memory.get("h"))
        return self.memory["h"].sum(1)


def test_a_state_kept_on_the_model_is_stamped_with_its_path():
    torch.manual_seed(0)
    model = _Stateful()
    out = model(torch.randn(2, 3))
    [(_, kept)], places = carried.held(model)
    assert kept is model.memory["h"] and places == {("", "memory")}
    carried.stamp(model, carried.held(model)[0], 0, kept=True)
    later = model(torch.randn(2, 3))  # reads the state of step 0
    record, _ = carried.find([later.sum()], 1, _stepped(model))
    assert record["held"] and record["output"] == ".memory['h']" and record["shape"] == [2, 4]
    assert out.grad_fn.metadata == {}  # the output is stamped only when the recorder stamps it


def test_parameters_buffers_without_a_graph_and_detached_state_are_not_held():
    model = _Stateful()
    model.register_buffer("count", torch.zeros(1))
    model.memory["h"] = model.cell(torch.randn(2, 3)).detach()
    assert carried.held(model) == ([], set())


def test_a_state_registered_as_a_buffer_and_reassigned_with_its_graph_is_held():
    model = _Stateful()
    model.register_buffer("h", torch.zeros(2, 4))
    model.h = model.cell(torch.randn(2, 3), model.h)
    kept, places = carried.held(model)
    assert [keystr(path) for path, _ in kept] == [".h"]
    # Looked for again where it was found only: the same state, without scanning the other modules.
    assert carried.held(model, places)[0] == kept and carried.held(model, set()) == ([], set())


class _Held(nn.Module):
    """A GRU keeping its hidden state on `self`, as many scripts do."""

    def __init__(self):
        super().__init__()
        self.gru, self.hidden = nn.GRU(3, 4, batch_first=True), None

    def forward(self, x):
        out, self.hidden = self.gru(x, self.hidden)
        return out


def test_state_set_afresh_between_calls_is_told_from_state_kept_or_carried_on():
    torch.manual_seed(0)
    model, place = _Held(), ("", "hidden")
    model(torch.randn(5, 2, 3))
    left = carried.storages(model, {place})
    assert carried.renewed(model, left) == {place: False}  # kept as the call left it
    model.hidden = model.hidden.detach()
    assert carried.renewed(model, left) == {place: False}  # carried on, detached: the same storage
    model.hidden = torch.zeros(1, 5, 4)  # an init_hidden(batch_size) before the next batch
    assert carried.renewed(model, left) == {place: True}
    model.hidden = None
    assert carried.renewed(model, left) == {place: True}


def test_fingerprints_see_writes_that_move_no_version():
    torch.manual_seed(0)
    a, b = nn.Linear(3, 2), nn.Linear(2, 1)
    prints = carried.Fingerprints()
    params = [*a.parameters(), *b.parameters()]
    prints.take(0, params)  # before step 1, which is walked
    prints.take(4, params)  # before step 5, which is not: nothing is taken
    assert list(prints.taken) == [0]
    versions = [p._version for p in params]
    a.weight.data -= 0.1  # an update by hand
    b.bias.data = b.bias.data + 1  # the data rebound
    assert [p._version for p in params] == versions
    assert set(prints.changed_since(0, 1)) == {id(a.weight), id(b.bias)}
    assert prints.changed_since(1, 2) == {}  # no fingerprint from step 1 on
    assert prints.changed_since(0, 0) == {}  # taken in the step under way: no step has ended since
