"""Multi-loss balance: the additive terms of a recorded loss (measure/tape.py), the measurement on shared
parameters (diagnosis/loss_terms.py), the rules (judge/loss_balance.py), and checkup's use of them."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import traindoctor
from conftest import validate
from traindoctor.diagnosis.loss_terms import NotMultiLoss, check_checkup, check_run, measure, named_terms
from traindoctor.diagnosis.loss_terms import _sample as _sample_of, _tape as _term_tape
from traindoctor.judge import loss_balance
from traindoctor.measure.tape import TapeRecorder


def _tape(loss_of_output):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    out = model(x)
    recorder = TapeRecorder()
    recorder.start(model, out, (x,), {}, 0)
    loss = loss_of_output(out, model)
    return recorder.finish(loss)


Y = torch.tensor([0, 1, 1, 0])


@pytest.mark.parametrize("written, expected", [
    (lambda o, m: F.cross_entropy(o, Y) + 0.01 * o.pow(2).mean(), [("cross_entropy", 1.0), ("mean", 0.01)]),
    (lambda o, m: (F.cross_entropy(o, Y) - o.mean() * 2) / 4, [("cross_entropy", 0.25), ("mean", -0.5)]),
    (lambda o, m: sum([F.cross_entropy(o, Y), o.abs().mean(), -o.std()]), [("cross_entropy", 1.0), ("mean", 1.0), ("std", -1.0)]),
])
def test_the_terms_of_a_recorded_loss_and_their_weights(written, expected):
    tape = _tape(written)
    assert [(t.name, pytest.approx(t.weight)) for t in tape.terms()] == expected


def test_in_place_sums_and_penalties_on_the_weights():
    def written(o, m):
        loss = F.cross_entropy(o, Y)
        loss += 0.5 * F.mse_loss(o, torch.zeros_like(o))
        return loss + 1e-4 * sum(p.pow(2).sum() for p in m.parameters())
    terms = _tape(written).terms()
    assert [(t.name, t.weights_only) for t in terms if not t.weights_only] == [("cross_entropy", False), ("mse_loss", False)]
    assert sum(t.weights_only for t in terms) == 2  # one penalty per parameter tensor, never judged
    assert list(named_terms(_tape(written))) == ["cross_entropy", "mse_loss"]


def test_a_single_term_and_a_sum_over_many_pieces_are_not_a_multi_loss():
    with pytest.raises(NotMultiLoss, match="single term"):
        named_terms(_tape(lambda o, m: F.cross_entropy(o, Y) + 1e-4 * m.weight.pow(2).sum()))
    with pytest.raises(NotMultiLoss, match="pieces"):
        named_terms(_tape(lambda o, m: sum(F.cross_entropy(o[i:i + 1], Y[i:i + 1]) for i in range(4)) + o.mean() * 0.1
                          + o.std() + o.abs().sum() + o.max() + o.min()))


def test_measure_compares_terms_on_the_shared_parameters_only():
    torch.manual_seed(0)
    trunk, a, b = nn.Linear(4, 4), nn.Linear(4, 1), nn.Linear(4, 1)
    h = trunk(torch.randn(8, 4))
    terms = {"a": a(h).pow(2).mean(), "b": -a(h).pow(2).mean(), "c": b(h).mean() * 0}
    params = [*trunk.parameters(), *a.parameters(), *b.parameters()]
    sample = measure(terms, params, 0)
    pair = next(p for p in sample["pairs"] if p["terms"] == ["a", "b"])
    assert pair["cosine"] == pytest.approx(-1) and pair["cancel"] == pytest.approx(0, abs=1e-6)
    assert all(p.grad is None for p in params)


def _sample(norms, cancel=0.9, values=None, at=0):
    names = list(norms)
    return {"at": at, "values": values or {n: 1.0 for n in names}, "norms": norms,
            "pairs": [{"terms": names[:2], "cosine": -0.9 if cancel < 0.5 else 0.1, "cancel": cancel}]}


def test_imbalance_needs_every_sample_and_a_term_that_is_not_served():
    drowned = [_sample({"big": 1.0, "small": 1e-5}, at=i) for i in range(4)]
    assert [f.code for f in loss_balance.judge(drowned, "run")] == ["loss-imbalance"]
    one_batch = drowned[:3] + [_sample({"big": 1.0, "small": 0.1})]
    assert loss_balance.judge(one_batch, "run") == []
    served = [_sample({"big": 1.0, "small": 1e-5}, values={"big": 1.0, "small": v}) for v in (1.0, 1.0, 0.2, 0.2)]
    assert loss_balance.judge(served, "run") == []
    chosen = loss_balance.judge(drowned, "run", {"big": 1.0, "small": 1e-4})  # the weight alone explains the gap
    assert chosen == []
    satisfied = [_sample({"big": 1.0, "small": 0.0}) for _ in range(4)]
    assert loss_balance.judge(satisfied, "run") == []


def test_a_drowned_term_whose_values_did_not_fall_is_an_error_and_one_known_by_its_gradients_alone_a_warning():
    """The consequence sets the severity: the task it stands for measured not learning, or only its lack of say."""
    stuck = [_sample({"big": 1.0, "small": 1e-5}, values={"big": b, "small": 1.4}) for b in (9.0, 9.0, 2.0, 2.0)]
    assert [(f.code, f.severity) for f in loss_balance.judge(stuck, "run")] == [("loss-imbalance", "error")]
    unknown = [{**s, "values": {}} for s in stuck]
    assert [(f.code, f.severity) for f in loss_balance.judge(unknown, "run")] == [("loss-imbalance", "warning")]


def test_a_task_made_worse_while_a_larger_term_is_served_is_traded_away_whatever_its_weight():
    """An order below a term that fell by half, the task's value doubled: the larger term's steps move the
    shared weights against it. Not when the task holds its value, nor a term that reads no target (a KL that
    grows as the code carries information), nor a term off tape beside a task that holds (not a penalty)."""
    def samples(small_values, big="big"):
        return [_sample({big: 1.0, "task": 0.03}, values={big: b, "task": v}, at=i)
                for i, (b, v) in enumerate(zip((100.0, 90.0, 2.0, 1.0), small_values))]
    worse = loss_balance.judge(samples((0.3, 0.3, 9.0, 9.0)), "run", {"task": 0.1}, ("task", "big"))
    assert [(f.code, f.severity, f.evidence["displaced"]) for f in worse] == [("loss-imbalance", "error", "worse")]
    assert "made `task` worse" in worse[0].observation
    assert loss_balance.judge(samples((0.3, 0.3, 0.3, 0.3)), "run", {"task": 0.1}, ("task", "big")) == []
    assert loss_balance.judge(samples((0.3, 0.3, 9.0, 9.0)), "run", {}, ("big",)) == []
    held = samples((0.3, 0.3, 0.3, 0.3), big="off")
    assert [f.evidence["displaced"] for f in loss_balance.judge(held, "run", {}, ("task",))] == ["penalty"]
    assert loss_balance.judge(held, "run", {}, ("task",), unknown=("off",)) == []
    # A term off tape far below the task (a penalty on the weights computed before the model's call): not judged.
    penalty = [_sample({"ce": 1.0, "l2": 1e-4}, values={"ce": v, "l2": 2e-4}) for v in (1.4, 1.4, 0.2, 0.2)]
    assert [f.evidence["term"] for f in loss_balance.judge(penalty, "run", {}, ("ce",))] == ["l2"]
    assert loss_balance.judge(penalty, "run", {}, ("ce",), unknown=("l2",)) == []


def _two_call_tape(first_term):
    """The model called on two batches, the loss summing a term of each: only the second call is on tape."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x1, x2, y = torch.randn(8, 3), torch.randn(8, 3), torch.randn(8, 1)
    first = first_term(model(x1), y)
    out = model(x2)
    recorder = TapeRecorder()
    recorder.start(model, out, (x2,), {}, 0, partial=True)
    loss = first + 0.1 * F.mse_loss(out, y) if first is not None else 0.1 * F.mse_loss(out, y) + out.abs().mean()
    return recorder.finish(loss)


def test_terms_off_tape_are_measured_on_the_live_graph_and_those_on_tape_are_not():
    off = _two_call_tape(lambda o, y: 1e3 * F.mse_loss(o, y))
    sample = off.live_sample
    assert set(sample["norms"]) == {"mul", "mse_loss"} and sample["weights"] == {"mul": 1.0, "mse_loss": 0.1}
    assert sample["tasks"] == ["mse_loss"] and sample["off_tape"] == ["mul"]
    assert sample["norms"]["mse_loss"] < 1e-2 * sample["norms"]["mul"]
    held = _two_call_tape(lambda o, y: 1e3 * F.mse_loss(o, y).detach())  # a constant: no term
    assert held.live_sample is None and [t.name for t in held.terms()] == ["add"]
    assert _two_call_tape(lambda o, y: None).live_sample is None  # every term on tape: replayed instead


def test_run_judges_live_samples_and_judges_cancelling_between_tasks_on_tape_only():
    """A critic's real and fake scores, both off tape, oppose by design; two tasks on tape that cancel do not."""
    def live(names, tasks, off):
        return [{**_sample(dict.fromkeys(names, 1.0), cancel=0.1, at=i), "weights": dict.fromkeys(names, 1.0),
                 "tasks": tasks, "off_tape": off} for i in range(4)]
    scores = check_run(None, [], None, live(["real", "fake"], [], ["real", "fake"]))
    assert scores[0] == [] and scores[1]["off_tape"] == ["fake", "real"]
    tasks = check_run(None, [], None, live(["a", "b", "c"], ["a", "b"], ["c"]))
    assert [(f.code, f.evidence["terms"]) for f in tasks[0]] == [("loss-conflict", ["a", "b"])]


def test_a_task_two_orders_below_another_is_drowned_when_the_other_was_served_and_it_was_not():
    """A sum beside a mean: both terms read targets, no weight sets them apart, the summed one falls and the
    other does not. Two orders are enough there; not for a penalty, a weighted term, or a term being served."""
    def samples(small, big_values=(100.0, 100.0, 2.0, 2.0), small_values=(1.0, 1.0, 0.9, 0.9)):
        return [_sample({"sum": 1.0, "mean": small}, values={"sum": b, "mean": v}, at=i)
                for i, (b, v) in enumerate(zip(big_values, small_values))]
    tasks = ("sum", "mean")
    drowned = loss_balance.judge(samples(3e-3), "run", {"sum": 1.0, "mean": 1.0}, tasks)
    assert [(f.code, f.evidence["term"]) for f in drowned] == [("loss-imbalance", "mean")]
    assert loss_balance.judge(samples(3e-2), "run", {}, tasks) == []  # within two orders
    assert loss_balance.judge(samples(3e-3), "run", {}, ("sum",)) == []  # a penalty beside a task
    assert loss_balance.judge(samples(3e-3), "run", {"sum": 1.0, "mean": 0.01}, tasks) == []  # weighted on purpose
    assert loss_balance.judge(samples(3e-3, small_values=(1.0, 1.0, 0.3, 0.3)), "run", {}, tasks) == []  # served
    assert loss_balance.judge(samples(3e-3, big_values=(100.0,) * 4), "run", {}, tasks) == []  # neither served


def test_conflict_needs_cancelling_from_the_first_sample_on():
    fights = [_sample({"a": 1.0, "b": 0.9}, cancel=0.1, at=i) for i in range(4)]
    assert [f.code for f in loss_balance.judge(fights, "monitor")] == ["loss-conflict"]
    compromise = [_sample({"a": 1.0, "b": 0.9}, cancel=0.95)] + fights[1:]  # opposed only once trained
    assert loss_balance.judge(compromise, "monitor") == []
    too_few = fights[:2]
    assert loss_balance.judge(too_few, "monitor") == []


def test_conflict_is_judged_between_tasks_not_against_a_penalty():
    """A VQ-VAE's commitment term (it reads no target) pulls the encoder toward the codebook, against the
    reconstruction, by design; two terms that read targets and cancel do not."""
    fights = [_sample({"recon": 1.0, "commit": 0.9}, cancel=0.1, at=i) for i in range(4)]
    assert loss_balance.judge(fights, "run", tasks={"recon"}) == []
    assert [f.code for f in loss_balance.judge(fights, "run", tasks={"recon", "commit"})] == ["loss-conflict"]
    assert [f.code for f in loss_balance.judge(fights, "run")] == ["loss-conflict"]  # no task known: every pair


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(8, 32), nn.ReLU())
        self.cls, self.reg = nn.Linear(32, 2), nn.Linear(32, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.cls(h), self.reg(h).squeeze(-1)


def _checkup(scale, sign=1.0, weight=1.0):
    torch.manual_seed(0)
    x = torch.randn(64, 8)
    targets = ((x[:, 0] > 0).long(), scale * x[:, 1])

    def loss_fn(out, t):
        return F.mse_loss(out[1], t[1]) + sign * weight * F.cross_entropy(out[0], t[0])
    record = check_checkup(TwoHeads(), x, targets, loss_fn, lambda p: torch.optim.AdamW(p, lr=3e-4))
    return record[0], record[1]


def test_checkup_with_its_whole_battery_names_a_drowned_term():
    torch.manual_seed(0)
    x = torch.randn(64, 8)
    targets = ((x[:, 0] > 0).long(), 3000.0 * x[:, 1])

    def loss_fn(out, t):
        return F.mse_loss(out[1], t[1]) + F.cross_entropy(out[0], t[0])
    report = validate(traindoctor.checkup(TwoHeads(), (x, targets), loss_fn, progress=False, overfit_steps=30))
    record = next(r for r in report.sections["checkup"]["probes"] if r["name"] == "loss-terms")
    assert record["status"] == "ran" and "loss-imbalance" in [f.code for f in report.findings]


def test_checkups_copies_name_a_drowned_term_and_not_balanced_or_weighted_ones():
    found, _ = _checkup(3000.0)
    assert [f.code for f in found] == ["loss-imbalance"] and found[0].source == "checkup"
    for scale, weight in ((2.0, 1.0), (2.0, 0.01)):
        found, record = _checkup(scale, weight=weight)
        assert found == [] and len(record["samples"]) == 4


def test_checkup_on_a_single_loss_says_there_is_nothing_to_balance():
    torch.manual_seed(0)
    x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
    with pytest.raises(NotMultiLoss, match="single term"):
        check_checkup(nn.Linear(8, 2), x, y, F.cross_entropy, lambda p: torch.optim.SGD(p, lr=0.1))


@pytest.mark.parametrize("sign", [-0.8, 1.0])
def test_checkup_names_terms_that_cancel_and_not_aligned_ones(sign):
    torch.manual_seed(0)
    x = torch.randn(64, 6)
    y = x[:, :2].sum(1, keepdim=True)
    net = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 1))

    def loss_fn(out, t):
        return F.mse_loss(out, t) + sign * F.mse_loss(out, t + 0.05)
    found, _ = check_checkup(net, x, y, loss_fn, lambda p: torch.optim.AdamW(p, lr=3e-4))
    assert [f.code for f in found] == (["loss-conflict"] if sign < 0 else []), found


def test_online_judges_conflict_on_the_first_samples_and_imbalance_from_first_to_latest_once():
    online = loss_balance.Online("monitor")
    fights = [online.add(_sample({"a": 1.0, "b": 0.9}, cancel=0.1, at=i)) for i in range(3)]
    assert [[f.code for f in new] for new in fights] == [[], [], ["loss-conflict"]]
    online = loss_balance.Online("monitor")
    drowned = [online.add(_sample({"big": 1.0, "small": 1e-5}, at=i)) for i in range(8)]
    assert [[f.code for f in new] for new in drowned] == [[]] * 5 + [["loss-imbalance"], [], []]


# ── a penalty that drowns the task: by its weight, or by its scale ────────────

class _VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.dec = nn.Linear(16, 8), nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 16))

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, 1)
        return self.dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp()), mu, logvar


class _Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.out = nn.GRU(6, 16, batch_first=True), nn.Linear(16, 3)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h), h


class _ConvClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 8, 3, padding=1), nn.Linear(8 * 64, 2)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return self.fc(h.flatten(1)), h


def _kl(mu, logvar):
    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp())


def _penalised(kind, loss_fn):
    torch.manual_seed(0)
    if kind == "vae":
        model, x = _VAE(), torch.randn(64, 2) @ torch.randn(2, 16)
        y = x
    elif kind == "tagger":
        model, x = _Tagger(), torch.randn(16, 10, 6)
        y = (x[..., 0] > 0).long()
    else:
        model, x = _ConvClassifier(), torch.randn(32, 1, 8, 8)
        y = (x[:, 0, :4].mean((1, 2)) > 0).long()
    found, _ = check_checkup(model, x, y, loss_fn, lambda p: torch.optim.Adam(p, lr=1e-2))
    return found


@pytest.mark.parametrize("kind, loss_fn", [
    # a KL summed over latents and batch beside a per-element mean reconstruction
    ("vae", lambda o, t: F.mse_loss(o[0], t) + _kl(o[1], o[2]).sum()),
    # a hidden-state penalty summed over every step and unit beside a mean cross-entropy
    ("tagger", lambda o, t: F.cross_entropy(o[0].reshape(-1, 3), t.reshape(-1)) + o[1].pow(2).sum()),
    # an activation penalty summed over every feature-map cell beside a mean cross-entropy
    ("conv", lambda o, t: F.cross_entropy(o[0], t) + o[1].pow(2).sum()),
])
def test_a_penalty_that_drowns_the_task_on_its_own_scale_explains_the_over_regularisation(kind, loss_fn):
    """With the weights taken out the penalty's gradient is still an order above the task's: its scale (a sum
    beside a mean), not a coefficient, is the cause, so loss-imbalance stands before over-regularization."""
    found = _penalised(kind, loss_fn)
    assert [(f.code, f.evidence.get("explains")) for f in found] == [("loss-imbalance", ["over-regularization"])]
    assert "not its weight" in found[0].observation


@pytest.mark.parametrize("kind, loss_fn, flagged", [
    # a KL weighted 100: the coefficient drowns the task, over-regularization's reading stands
    ("vae", lambda o, t: F.mse_loss(o[0], t) + 100 * _kl(o[1], o[2]).sum(1).mean(), True),
    # the reconstruction summed per sample beside the KL per sample: balanced
    ("vae", lambda o, t: F.mse_loss(o[0], t, reduction="sum") / 64 + _kl(o[1], o[2]).sum(1).mean(), False),
    # the summed activation penalty weighted down to the task's scale
    ("conv", lambda o, t: F.cross_entropy(o[0], t) + 0.01 * o[1].pow(2).sum(), False),
])
def test_a_penalty_drowning_the_task_by_its_weight_or_a_balanced_one_claims_no_scale_mismatch(kind, loss_fn, flagged):
    found = _penalised(kind, loss_fn)
    assert [f.code for f in found] == (["loss-imbalance"] if flagged else [])
    assert all("explains" not in f.evidence for f in found)


def test_a_scale_mismatch_reads_before_the_over_regularisation_it_causes():
    from traindoctor.vocabulary.finding import finding
    from traindoctor.vocabulary.triage import triage
    penalty = [_sample({"kl": 1.0, "rec": 0.03}, values={"kl": k, "rec": 0.4}, at=i)
               for i, k in enumerate((6.0, 5.0, 0.1, 0.1))]
    for weights, first in (({"rec": 1.0, "kl": 1.0}, "loss-imbalance"), ({"rec": 1.0, "kl": 100.0}, "over-regularization")):
        found = loss_balance.judge(penalty, "run", weights, ("rec",))
        over = finding("over-regularization", "the penalty off, the data term falls", "run")
        assert [f.code for f in triage(found + [over])][0] == first
    # Weights unknown (the Monitor's terms): no claim either way.
    assert "explains" not in loss_balance.judge(penalty, "run", {}, ("rec",))[0].evidence


@pytest.mark.parametrize("task, penalty, weights", [
    ("bce", "kl", {"bce": 1.0, "kl": -0.5}),  # a KL summed over latents beside a reconstruction averaged over pixels
    ("cross_entropy", "l1", {"cross_entropy": 1.0, "l1": 1.0}),  # an activation L1 summed over states
    ("mse", "smooth", {"mse": 2.0, "smooth": 1.0}),  # a smoothness penalty summed over every pixel
])
def test_a_penalty_that_drowned_the_task_at_the_start_by_its_scale_and_was_met_explains_the_over_regularisation(
        task, penalty, weights):
    """The task fell through what only it reaches, and the met penalty asks nothing at the final weights: the
    start shows the shared weights went where the penalty wants them before the task had a say."""
    def samples(start_ratio, penalty_end, task_norm_end=1.0):
        norms = [start_ratio, start_ratio, task_norm_end, task_norm_end]
        return [_sample({task: n, penalty: 1.0}, values={task: v, penalty: p}, at=i)
                for i, (n, v, p) in enumerate(zip(norms, (0.7, 0.7, 0.2, 0.2), (0.5, 0.5, penalty_end, penalty_end)))]
    found = loss_balance.judge(samples(0.01, 1e-3), "run", weights, (task,))
    assert [(f.code, f.evidence["displaced"], f.evidence["explains"]) for f in found] == [
        ("loss-imbalance", "collapsed", ["over-regularization"])]
    assert "before" in found[0].observation and "not its weight" in found[0].observation
    assert loss_balance.judge(samples(0.5, 1e-3), "run", weights, (task,)) == []  # the task had its say
    assert loss_balance.judge(samples(0.01, 0.3), "run", weights, (task,)) == []  # the penalty was not met
    assert loss_balance.judge(samples(0.01, 1e-3), "run", {}, (task,)) == []  # weights unknown: no scale claim
    assert loss_balance.judge(samples(0.01, 1e-3), "run", {**weights, penalty: 1e-3 * weights[task]}, (task,)) == []
    assert loss_balance.judge(samples(0.01, 1e-3), "run", weights, (task, penalty)) == []  # two tasks
    # Weighted an order above the task too (a KL x 50): the coefficient's over-regularization reads first.
    strong = loss_balance.judge(samples(1e-4, 1e-3), "run", {**weights, penalty: 50 * weights[task]}, (task,))
    assert [(f.evidence["displaced"], f.evidence.get("explains")) for f in strong] == [("collapsed", None)]


def test_a_textbook_vae_whose_kl_grows_from_zero_is_not_collapsed():
    """Reconstruction and KL both summed per image: the reconstruction leads at the start and the KL rises."""
    vae = [_sample({"bce": b, "kl": k}, values={"bce": v, "kl": kv}, at=i) for i, (b, k, v, kv) in
           enumerate(((3.2, 0.26, 283.0, 0.025), (3.2, 0.27, 282.0, 0.026), (13.8, 9.3, 30.0, 9.0), (11.7, 10.5, 28.0, 9.8)))]
    assert loss_balance.judge(vae, "run", {"bce": 0.01, "kl": -0.005}, ("bce",)) == []


# ── a task starved beside a term that was met ────────────────────────────────

def test_each_term_made_by_a_loss_function_carries_the_value_of_an_uninformed_model_in_its_units():
    """ln C for a cross-entropy, the targets' variance for an MSE, times the term's weight; none for a penalty
    written by hand. On tape (replayed on copies) and on the live graph (a term off tape)."""
    torch.manual_seed(0)
    x = torch.randn(64, 8)
    targets = ((x[:, 0] > 0).long(), 2.0 * x[:, 1])
    tape = _term_tape(TwoHeads(), x, targets, lambda o, t: F.mse_loss(o[1], t[1]) + 0.5 * F.cross_entropy(o[0], t[0]))
    assert _sample_of(TwoHeads(), tape, 0)["uninformed"] == pytest.approx(
        {"mse_loss": float(targets[1].var()), "cross_entropy": 0.5 * math.log(2)})
    x = torch.randn(8, 5, 6)
    tape = _term_tape(_Tagger(), x, (x[..., :3] > 0).float(),
                      lambda o, t: F.binary_cross_entropy_with_logits(o[0], t) + o[1].abs().mean())
    assert _sample_of(_Tagger(), tape, 0)["uninformed"] == pytest.approx(
        {"binary_cross_entropy_with_logits": math.log(2)})
    # Against soft targets (a teacher's probabilities, intensities) the floor is their entropy: no level.
    soft = torch.rand(64, 2).softmax(1)
    tape = _term_tape(TwoHeads(), torch.randn(64, 8), soft,
                      lambda o, t: F.cross_entropy(o[0], t) + F.binary_cross_entropy_with_logits(o[1], t[:, 0]))
    assert _sample_of(TwoHeads(), tape, 0)["uninformed"] == {}
    live = _two_call_tape(lambda o, y: 1e3 * F.mse_loss(o, y)).live_sample
    torch.manual_seed(0)
    nn.Linear(3, 1), torch.randn(8, 3), torch.randn(8, 3)
    assert live["uninformed"] == pytest.approx({"mse_loss": 0.1 * float(torch.randn(8, 1).var())})


def _starving(task_values, other_values, task_norm=0.3, level=1.386, tasks=("task",), other="other"):
    return [{**_sample({"task": task_norm, other: 1.0}, values={"task": v, other: o}, at=i),
             "uninformed": {"task": level}} for i, (v, o) in enumerate(zip(task_values, other_values))]


@pytest.mark.parametrize("level, task_values, other, tasks, unknown", [
    # a 4-way intent classifier beside an activation penalty summed over states, computed off tape
    (math.log(4), (1.41, 1.33, 1.385, 1.387), "l1", ("task",), ("l1",)),
    # a shape classifier beside a centre regression in pixels: two tasks, the regression met
    (math.log(4), (1.39, 1.40, 1.38, 1.31), "loc", ("task", "loc"), ()),
    # a denoiser's MSE at the targets' variance beside a smoothness penalty summed over pixels
    (0.8, (0.85, 0.82, 0.79, 0.8), "smooth", ("task",), ()),
])
def test_a_task_left_at_its_uninformed_value_beside_a_larger_term_that_was_met_is_starved(
        level, task_values, other, tasks, unknown):
    """Whatever the ratio (an order or not), the outcome is conclusive: one term met, the task never learned."""
    samples = _starving(task_values, (300.0, 310.0, 4.4, 7.5), level=level, other=other)
    found = loss_balance.judge(samples, "run", {"task": 1.0, other: 1.0}, tasks, unknown)
    assert [(f.code, f.severity, f.evidence["displaced"], f.evidence["largest"]) for f in found] == [
        ("loss-imbalance", "error", "starved", other)]
    assert found[0].evidence.get("explains") == (["over-regularization"] if other not in tasks else None)
    assert "learned next to nothing" in found[0].observation


def test_a_task_that_learned_or_one_beside_no_larger_met_term_is_not_starved():
    met = (300.0, 310.0, 4.4, 7.5)
    assert loss_balance.judge(_starving((1.4, 1.4, 0.3, 0.3), met), "run", {}, ("task",)) == []  # it learned
    assert loss_balance.judge(_starving((1.4, 1.4, 1.0, 1.0), met), "run", {}, ("task",)) == []  # below its level
    assert loss_balance.judge(_starving((1.4,) * 4, (300.0, 310.0, 100.0, 90.0)), "run", {}, ("task",)) == []  # not met
    # A surrogate that changes sign (a policy-gradient loss) has no floor to meet.
    assert loss_balance.judge(_starving((1.4,) * 4, (0.5, 0.4, -0.01, 0.02)), "run", {}, ("task",)) == []
    assert loss_balance.judge(_starving((1.4,) * 4, met, task_norm=2.0), "run", {}, ("task",)) == []  # it had more say
    no_level = [{k: v for k, v in s.items() if k != "uninformed"} for s in _starving((1.4,) * 4, met)]
    assert loss_balance.judge(no_level, "run", {}, ("task",)) == []  # its uninformed value unknown
    # Outweighed by the penalty's weight alone (a KL x 100): the coefficient is over-regularization's reading.
    weighted = loss_balance.judge(_starving((1.4,) * 4, met), "run", {"task": 1.0, "other": 100.0}, ("task",))
    assert [f.evidence["displaced"] for f in weighted] == ["starved"] and "explains" not in weighted[0].evidence
