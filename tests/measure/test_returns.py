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


# ── returns rearranged against log-probabilities stacked step by step ────────────────────────────────────────

def _in_loop_reversal(x):
    """The returns list reversed inside the accumulation loop: a scramble of the steps."""
    out = []
    for v in x[::-1]:
        out.append(v)
        out.reverse()
    return np.stack(out)


def _rollout(weights_of, steps, envs=0, *, passes=6, regather=False, seed=2):
    """Backward passes of −(log π · w).mean() with one log-probability evaluated per step (per step of `envs`
    environments side by side when envs > 0), stacked in the order played; the rewards in `rewards`."""
    rec, rng = Recorder(), np.random.default_rng(seed)
    logits = torch.zeros(3, requires_grad=True)
    shape = (steps, envs) if envs else (steps,)
    for step in range(passes):
        rewards = (rng.random(shape) < 0.4).astype(float) + 0.1 * rng.standard_normal(shape)
        logps = []
        for _ in range(steps):
            dist = Categorical(logits=logits.expand(envs, 3) if envs else logits)
            logps.append(dist.log_prob(dist.sample()))
            rec.returns.stamp(logps[-1])
        logp, w = torch.stack(logps), torch.tensor(np.ascontiguousarray(weights_of(rewards, rng)), dtype=torch.float32)
        if regather:  # a minibatch order shared by log-probabilities and weights: positions are no longer steps
            perm = torch.randperm(steps, generator=torch.Generator().manual_seed(step))
            logp, w = logp[perm], future_t(rewards)[perm]
        rec.returns.backward(-(logp * w).mean(), step, dict)
    return rec


def future_t(r):
    return torch.tensor(future(r).copy(), dtype=torch.float32)


REARRANGED = {
    "reversed-in-loop": (lambda r, rng: standardised(_in_loop_reversal(future(r, 0.7))), 16, 0),
    "scrambled-per-env": (lambda r, rng: np.take_along_axis(future(r), rng.random(r.shape).argsort(0), 0) - 0.5,
                          12, 4),
    "scrambled-off-grid-discount": (lambda r, rng: future(r, 0.93)[rng.permutation(len(r))], 20, 0),
}

IN_PLACE = {
    "standardised": (lambda r, rng: standardised(future(r, 0.7)), 16, 0),
    "per-env-baseline": (lambda r, rng: future(r) - future(r).mean(1, keepdims=True), 12, 4),
    "critic-advantage": (lambda r, rng: future(r) - 0.5 * rng.random(r.shape), 20, 0),
}


@pytest.mark.parametrize("name", REARRANGED)
def test_returns_rearranged_against_stacked_steps_are_found(name):
    build, steps, envs = REARRANGED[name]
    rec = _rollout(build, steps, envs)
    found, = rule.check(rec)
    assert found.evidence["construction"] == "permuted", found.evidence


@pytest.mark.parametrize("name", IN_PLACE)
def test_returns_in_place_against_stacked_steps_are_not(name):
    build, steps, envs = IN_PLACE[name]
    assert rule.check(_rollout(build, steps, envs)) == []


def test_a_shared_reindexing_of_log_probabilities_and_weights_is_not_a_rearrangement():
    rec = _rollout(lambda r, rng: future(r), 16, regather=True)
    assert all(o.fits["permuted"][0] < 0 for o in rec.returns.observations)
    assert rule.check(rec) == []


def test_a_shuffled_minibatch_of_one_batched_evaluation_is_not_a_rearrangement():
    """PPO over the whole buffer in a shuffled order: the log-probabilities' rows are not steps."""
    rec = _passes(lambda r, rng: future(r)[rng.permutation(T)], (T,), kind="list")
    assert rule.check(rec) == []


# ── weights drawn in minibatches from a longer buffer ─────────────────────────────────────────────────────────

class _Episodes(torch.utils.data.Dataset):
    def __init__(self, returns):
        self.returns = returns

    def __len__(self):
        return len(self.returns)

    def __getitem__(self, i):
        return self.returns[i]


def _minibatches(returns_of, *, layout, passes=2, batch=12):
    """Episodes of rewards recorded per record (`episodes[*][1]`), the returns built from them into a buffer of
    `layout` (a Dataset behind a shuffling DataLoader, a list of floats, a time-first tensor), and losses over
    shuffled minibatches of that buffer."""
    rec, rng, step = Recorder(), np.random.default_rng(3), 0
    for _ in range(passes):
        episodes = [(list(range(T)), ((rng.random(T) < 0.4) + 0.1 * rng.standard_normal(T)).tolist())
                    for _ in range(N)]
        rewards = np.array([e[1] for e in episodes])  # episodes × steps
        built = returns_of(rewards.T).T  # built along time
        if layout == "dataset":
            loader = torch.utils.data.DataLoader(_Episodes(torch.tensor(built.reshape(-1), dtype=torch.float32)),
                                                 batch_size=batch, shuffle=True)  # noqa: F841 — read
            draws = list(loader)
        elif layout == "floats":
            buffer = built.reshape(-1).tolist()  # noqa: F841 — read
            draws = [torch.tensor([buffer[i] for i in rng.permutation(len(buffer))[:batch]]) for _ in range(2)]
        else:
            buffer = torch.tensor(built.T.copy(), dtype=torch.float32)  # time-first
            draws = [buffer.reshape(-1)[torch.randperm(buffer.numel())[:batch]] for _ in range(2)]
        del rewards, built
        for g in draws[:2]:
            logp = Categorical(logits=torch.zeros(len(g), 3, requires_grad=True)).log_prob(torch.zeros(len(g)))
            rec.returns.stamp(logp)
            rec.returns.backward(-(logp * g).mean(), step, dict)
            step += 1
    return rec


def _start_discounted(r, gamma=GAMMA, forward=True):
    x = r * gamma ** np.arange(len(r))[:, None]
    return np.cumsum(x, 0) if forward else np.cumsum(x[::-1], 0)[::-1]


@pytest.mark.parametrize("layout, build", [("dataset", _start_discounted), ("floats", past),
                                           ("time-first", lambda r: standardised(past(r, 0.8)))])
def test_a_buffer_of_past_sums_behind_minibatches_is_found(layout, build):
    rec = _minibatches(build, layout=layout)
    found, = rule.check(rec)
    assert found.evidence["construction"] == "past" and found.evidence["buffer"], found.evidence


@pytest.mark.parametrize("layout, build", [("dataset", lambda r: _start_discounted(r, forward=False)),
                                           ("floats", future), ("time-first", lambda r: standardised(future(r))),
                                           ("dataset", lambda r: future(r)[::-1])])  # stored last step first
def test_a_buffer_of_returns_to_go_behind_minibatches_is_not(layout, build):
    assert rule.check(_minibatches(build, layout=layout)) == []


# ── rewards kept as a field of the script's own rollout object ─────────────────────────────────────────────────

class _Rollout:
    def __init__(self, rewards, values):
        self.rewards, self.values = rewards, values


def _from_a_rollout_object(build, kind):
    """A rollout object holding time-first rewards (as `kind`) and values; the weights built from them flattened
    into a buffer, and losses over its shuffled minibatches: only the object's fields hold the rewards."""
    rec, rng, step = Recorder(), np.random.default_rng(5), 0
    for _ in range(3):
        r = (rng.random((T, N)) < 0.3) + 0.1 * rng.standard_normal((T, N))
        held = {"tensor": torch.tensor(r, dtype=torch.float32), "array": r, "list": r.tolist()}[kind]
        roll = _Rollout(held, torch.tensor(0.05 * rng.standard_normal((T, N)), dtype=torch.float32))  # noqa: F841
        flat = torch.tensor(standardised(build(r)).reshape(-1).copy(), dtype=torch.float32)
        del r, held
        for _ in range(2):
            g = flat[torch.randperm(flat.numel())[:24]]
            logp = Categorical(logits=torch.zeros(len(g), 3, requires_grad=True)).log_prob(torch.zeros(len(g)))
            rec.returns.stamp(logp)
            rec.returns.backward(-(logp * g).mean(), step, dict)
            step += 1
    return rec


@pytest.mark.parametrize("kind", ["tensor", "array", "list"])
def test_a_forward_recursion_over_a_rollout_objects_rewards_is_found(kind):
    found, = rule.check(_from_a_rollout_object(lambda r: past(r, 0.9 * 0.95), kind))
    assert found.evidence["construction"] == "past" and found.evidence["rewards"] == "roll.rewards", found.evidence


@pytest.mark.parametrize("kind", ["tensor", "array", "list"])
def test_a_backward_recursion_over_a_rollout_objects_rewards_is_not(kind):
    rec = _from_a_rollout_object(lambda r: future(r, 0.9 * 0.95), kind)
    assert rec.returns.observations and rule.check(rec) == []


def _acting(envs, kind, *, late, gamma=0.5, baseline=0.0, steps=12, passes=3, seed=3):
    """Rollouts of a policy over `envs` parallel environments (0: one, scalar rewards) whose rewards are stored
    beside each action: the one its step returned, or (`late`) the one received before it was drawn. The weights
    are the stored rewards' reward-to-go, minus `baseline` times a value known at the draw."""
    rec, rng = Recorder(), np.random.default_rng(seed)
    logits = torch.zeros(*([envs] if envs else []), 3, requires_grad=True)
    reward = np.zeros(envs) if envs else 0.0  # the last reward received
    for update in range(passes):
        stored, values, logps = [], [], []
        for t in range(steps):
            value = rng.standard_normal(envs) if envs else float(rng.standard_normal())  # noqa: F841 — read
            dist = Categorical(logits=logits)
            action = dist.sample()
            rec.returns.drew(action)
            logp = dist.log_prob(action)
            rec.returns.stamp(logp)
            logps.append(logp)
            values.append(value)
            if late:
                stored.append(reward)
            reward = (rng.random(envs) < 0.5) + 0.3 * rng.standard_normal(envs) if envs else float(rng.random())
            if not late:
                stored.append(reward)
        if kind == "numpy":
            rewards = np.stack(stored)
        elif kind == "tensors":
            rewards = [torch.tensor(float(x)) for x in stored]  # noqa: F841 — read
        else:
            rewards = list(stored)  # noqa: F841 — read
        vals = np.stack(values).reshape(steps, -1)
        w = future(np.asarray(stored, dtype=float).reshape(steps, -1), gamma) - baseline * vals
        loss = -(torch.stack(logps).reshape(steps, -1) * torch.tensor(w, dtype=torch.float32)).mean()
        rec.returns.backward(loss, update, dict)
    return rec


STORED = {"envs-numpy": (8, "numpy", 0.1), "one-env-floats": (0, "floats", 0.5), "one-env-tensors": (0, "tensors", 0.3)}


@pytest.mark.parametrize("name", STORED)
def test_a_reward_stored_beside_an_action_it_did_not_follow_is_found(name):
    envs, kind, gamma = STORED[name]
    found, = rule.check(_acting(envs, kind, late=True, gamma=gamma, baseline=0.1))
    assert found.code == "returns-misordered" and found.evidence["early"] >= 3, found.evidence
    assert "last_reward" in found.hypotheses[0].cause


@pytest.mark.parametrize("name", STORED)
@pytest.mark.parametrize("baseline", [0.0, 1.0])
def test_a_reward_stored_after_its_action_is_not(name, baseline):
    envs, kind, gamma = STORED[name]
    assert rule.check(_acting(envs, kind, late=False, gamma=gamma, baseline=baseline)) == []


def _td(shape, *, own, gamma=0.97, blocked=0.0, passes=4, seed=5):
    """Value regressions on TD targets r + γ·(1 − done)·V: of the next states, or (`own`) the prediction's own
    values cached when the action was taken. `blocked`: the share of transitions whose next state is the same."""
    from traindoctor.measure.returns import Returns
    ret, rng = Returns(), np.random.default_rng(seed)
    critic = torch.nn.Linear(4, 1)
    for step in range(passes):
        s, s2 = torch.randn(*shape, 4), torch.randn(*shape, 4)
        same = torch.tensor(rng.random(shape) < blocked)
        s2[same] = s[same]
        v = critic(s).squeeze(-1)
        reward = torch.tensor(np.where(rng.random(shape) < 0.1, 1.0, -0.01), dtype=torch.float32)
        done = torch.tensor(rng.random(shape) < 0.1, dtype=torch.float32)
        with torch.no_grad():
            boot = v.detach() if own else critic(s2).squeeze(-1)
        target = reward + gamma * boot * (1.0 - done)
        adv = (target - v).detach()  # noqa: F841 — read: target − adv is the prediction itself (γ = 1)
        ret.regressed(v, target, step, dict)
    return ret


@pytest.mark.parametrize("shape", [(16,), (8, 6), (40,)], ids=["envs", "time-by-envs", "batch"])
def test_a_td_target_bootstrapped_from_its_own_prediction_is_found(shape):
    rec = type("R", (), {})()
    rec.returns, rec.source = _td(shape, own=True), "run"
    found, = rule.check(rec)
    assert found.code == "returns-misordered" and found.evidence["own"] >= 3, found.evidence
    assert "V(s')" in found.hypotheses[0].cause


@pytest.mark.parametrize("blocked", [0.0, 0.5])
@pytest.mark.parametrize("shape", [(16,), (8, 6)], ids=["envs", "time-by-envs"])
def test_a_td_target_bootstrapped_from_the_next_state_is_not(shape, blocked):
    assert _td(shape, own=False, blocked=blocked).own == []
