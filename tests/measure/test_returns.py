"""The weights of a policy-gradient loss against the rewards they are built from (measure/returns.py,
judge/returns.py): the product with an evaluated log-probability found in the loss graph, the rewards read from
the caller's variables in any layout, the constructions fitted. Broken: a past sum, returns reversed, shifted by
one with the wrap-around, GAE run forward. Healthy look-alikes: standardised discounted returns, an A2C advantage
with bootstrapped values, undiscounted reward-to-go in a flat buffer, n-step returns, the total return at every
step, a loss written with the weight negated."""
import numpy as np
import pytest
import torch
from torch.distributions import Categorical

from traindoctor.judge import returns as rule
from traindoctor.measure.recorder import Recorder

T, N, GAMMA = 10, 12, 0.9


def future(r, gamma=GAMMA, axis=0):
    r = np.moveaxis(np.asarray(r, dtype=float), axis, 0)
    out, acc = np.zeros_like(r), np.zeros(r.shape[1:])
    for t in reversed(range(len(r))):
        acc = r[t] + gamma * acc
        out[t] = acc
    return np.moveaxis(out, 0, axis)


def past(r, gamma=GAMMA, axis=0):
    return np.flip(future(np.flip(np.asarray(r, dtype=float), axis), gamma, axis), axis)


def standardised(x):
    return (x - x.mean()) / (x.std() + 1e-8)


def _passes(weights_of, shape, *, kind="tensor", passes=8, negated=False):
    """Backward passes of −(log π · w).mean() with the rewards in a local variable of `kind`."""
    rec, rng = Recorder(), np.random.default_rng(0)
    logits = torch.zeros(int(np.prod(shape)), 3, requires_grad=True)
    for step in range(passes):
        r = (rng.random(shape) < 0.4).astype(float) + 0.1 * rng.standard_normal(shape)
        rewards = r.tolist() if kind == "list" else torch.tensor(r, dtype=torch.float32)  # noqa: F841 — read
        w = torch.tensor(np.ascontiguousarray(weights_of(r, rng)), dtype=torch.float32)
        dist = Categorical(logits=logits)
        logp = dist.log_prob(dist.sample())
        rec.returns.stamp(logp)
        logp = logp.reshape(w.shape)
        loss = (logp * -w).mean() if negated else -(logp * w).mean()
        rec.returns.backward(loss, step, dict)
    return rec


BROKEN = {
    "past-sum-list": (lambda r, rng: standardised(past(r)), (T,), "list"),
    "reversed-batch-first": (lambda r, rng: future(r, axis=1)[:, ::-1], (N, T), "tensor"),
    "shifted-time-first": (lambda r, rng: np.roll(future(r, 0.8), -1, 0) - 0.1 * rng.standard_normal((T, N)),
                           (T, N), "tensor"),
    "gae-forward": (lambda r, rng: standardised(past(r, 0.85)), (T, N), "tensor"),
}

HEALTHY = {
    "standardised-list": (lambda r, rng: standardised(future(r)), (T,), "list"),
    "a2c-bootstrapped": (lambda r, rng: future(np.vstack([r, rng.random((1, N))]))[:-1]
                         - 0.3 * rng.standard_normal((T, N)), (T, N), "tensor"),
    "undiscounted-batch-first": (lambda r, rng: future(r, 1.0, axis=1), (N, T), "tensor"),
    "n-step": (lambda r, rng: sum(GAMMA ** k * np.vstack([r[k:], np.zeros((k, N))]) for k in range(3)),
               (T, N), "tensor"),
    "total-return": (lambda r, rng: np.full(r.shape, r.sum()), (T,), "list"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_misordered_weights_are_found(name):
    build, shape, kind = BROKEN[name]
    rec = _passes(build, shape, kind=kind)
    assert rec.returns.observations and {o.name for o in rec.returns.observations} <= {"rewards", "r"}
    found, = rule.check(rec)
    assert found.code == "returns-misordered" and found.evidence["misordered"] >= 6, found.evidence


@pytest.mark.parametrize("name", HEALTHY)
def test_weights_built_from_later_rewards_are_not(name):
    build, shape, kind = HEALTHY[name]
    rec = _passes(build, shape, kind=kind)
    assert rule.check(rec) == [], [(o.name, o.fits) for o in rec.returns.observations]


def test_the_latest_episode_of_a_flat_buffer_is_read_at_its_tail():
    rng = np.random.default_rng(1)
    episodes = [(rng.random(T) < 0.4).astype(float) for _ in range(4)]

    def flat(build):
        rec = Recorder()
        for step in range(6):
            episodes.append((rng.random(T) < 0.4).astype(float))
            ep_rews = episodes[-1].tolist()  # noqa: F841 — the latest episode, read from this frame
            w = torch.tensor(np.concatenate([build(e) for e in episodes[-4:]]), dtype=torch.float32)
            logp = Categorical(logits=torch.zeros(len(w), 2, requires_grad=True)).log_prob(torch.zeros(len(w)))
            rec.returns.stamp(logp)
            rec.returns.backward(-(logp * w).sum(), step, dict)
        return rec
    assert [f.code for f in rule.check(flat(lambda e: past(e, 1.0)))] == ["returns-misordered"]
    assert rule.check(flat(lambda e: future(e, 1.0))) == []


def test_the_sign_of_the_loss_tells_an_undiscounted_past_sum_from_the_reward_to_go():
    """Undiscounted, the past sum is the reward-to-go negated plus the total: `logp * -G` is healthy."""
    rec = _passes(lambda r, rng: future(r, 1.0), (T,), kind="list", negated=True)
    assert rec.returns.observations and all(o.credit == -1.0 for o in rec.returns.observations)
    assert rule.check(rec) == []
