"""The actions a policy-gradient loss evaluates, paired with the policy's draws by the rollout's order
(measure/rollout.py), in a small discrete world where every action is soon drawn in every state — a ledger of the
actions drawn per state cannot tell a taken action from any other there. Broken: a fresh draw, the argmax, each
action paired with the next state (also stacked world by world), the previous rollout's actions. Healthy: the
stored actions in order or world by world, shuffled minibatches with one index, the last two rollouts replayed,
two draws on the same states, an enumerated action."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical

from traindoctor.measure.actions import Actions
from traindoctor.measure.rollout import Rollout

C, K, N, T = 5, 3, 8, 12  # one-hot cells, actions, parallel worlds, steps of a rollout


def call(acts, policy, x):
    """A model call as the recorder sees it: its input noted, its output stamped."""
    acts.model_called(policy, (x,), {})
    out = policy(x)
    acts.model_returned(policy, [out])
    return out


def collect(acts, policy, twice):
    """A rollout in a walk over C cells: the states each action was drawn in, the actions, the states after, and
    (`twice`) a second action drawn in each state (a leave-one-out baseline's)."""
    pos = torch.zeros(N, dtype=torch.long)
    states, actions, after, seconds = [], [], [], []
    for _ in range(T):
        x = F.one_hot(pos, C).float()
        with torch.no_grad():
            dist = Categorical(logits=call(acts, policy, x))
        a = dist.sample()
        acts.drew(a, N, False, lambda: None, dist)
        seconds.append(dist.sample() if twice else a)
        if twice:
            acts.drew(seconds[-1], N, False, lambda: None, dist)
        pos = torch.clamp(pos + a - 1, 0, C - 1)
        states.append(x), actions.append(a), after.append(F.one_hot(pos, C).float())
    return torch.cat(states), torch.cat(actions), torch.cat(after), torch.cat(seconds)


def evaluate(acts, policy, states, actions):
    logits = call(acts, policy, states)
    acts.evaluated(actions, len(states), False, lambda: logits, "log_prob", lambda: {"step": 0})


def fresh_draw(acts, policy, run, _):
    states = run[0]
    with torch.no_grad():
        again = Categorical(logits=call(acts, policy, states)).sample()
    acts.drew(again, len(states), False, lambda: None, states)
    return states, again


def by_world(t):
    """Time-major rows stacked world by world: each parallel world's steps together."""
    return t.reshape(T, N, *t.shape[1:]).transpose(0, 1).reshape(N * T, *t.shape[1:])


BROKEN = {
    "fresh-draw": fresh_draw,
    "argmax": lambda acts, policy, run, _: (run[0], policy(run[0]).argmax(1)),
    "next-state": lambda acts, policy, run, _: (run[2], run[1]),
    "next-state-world-by-world": lambda acts, policy, run, _: (by_world(run[2]), by_world(run[1])),
    "argmax-world-by-world": lambda acts, policy, run, _: (by_world(run[0]), policy(by_world(run[0])).argmax(1)),
    "previous-rollout-actions": lambda acts, policy, run, previous: (run[0], previous[1]),
}


def shuffled(acts, policy, run, _):
    perm = torch.randperm(len(run[0]))
    for k in range(0, len(perm), 16):
        evaluate(acts, policy, run[0][perm[k:k + 16]], run[1][perm[k:k + 16]])
    return run[0], run[1]


def two_draws(acts, policy, run, _):
    evaluate(acts, policy, run[0], run[3])
    return run[0], run[1]


HEALTHY = {
    "stored-in-order": lambda acts, policy, run, _: (run[0], run[1]),
    "stored-world-by-world": lambda acts, policy, run, _: (by_world(run[0]), by_world(run[1])),
    "shuffled-minibatches": shuffled,
    "two-rollouts-replayed": lambda acts, policy, run, previous: (torch.cat([previous[0], run[0]]),
                                                                  torch.cat([previous[1], run[1]])),
    "two-draws-on-the-states": two_draws,
    "enumerated-action": lambda acts, policy, run, _: (run[0], torch.full_like(run[1], 2)),
}


def play(make, twice=False):
    """Three rollouts (every action drawn in every cell by then), then two more whose evaluation `make` builds."""
    torch.manual_seed(0)
    acts, policy = Actions(), nn.Sequential(nn.Linear(C, 16), nn.Tanh(), nn.Linear(16, K))
    for _ in range(3):
        previous = collect(acts, policy, twice)
    assert all(len(drawn) == K for drawn in acts.ledger.values()), "the ledger alone would see every action"
    for _ in range(2):
        run = collect(acts, policy, twice)
        evaluate(acts, policy, *make(acts, policy, run, previous))
        previous = run
    return acts


@pytest.mark.parametrize("name", BROKEN)
def test_an_action_not_taken_at_its_place_in_the_rollout(name):
    acts = play(BROKEN[name])
    assert acts.checked >= 2 * N * T
    assert acts.untaken >= 0.3 * acts.checked, (acts.untaken, acts.checked)
    assert acts.evaluations[0]["order"] == ("actions" if name.startswith("next-state") else "states")


@pytest.mark.parametrize("name", HEALTHY)
def test_the_actions_taken_are_found_at_their_place(name):
    acts = play(HEALTHY[name], twice=name == "two-draws-on-the-states")
    assert acts.untaken == 0, acts.evaluations
    assert acts.checked >= (0 if name == "enumerated-action" else 2 * N * T)


def test_a_run_is_believed_only_when_chance_cannot_explain_it():
    rng = np.random.default_rng(0)
    rollout = Rollout()
    keys = rng.integers(0, 4, 400).tolist()
    for k in range(0, 400, 8):
        rollout.drew(keys[k:k + 8], keys[k:k + 8])
    assert rollout.aligned(keys[160:260], 0).tolist() == [160]
    assert rollout.aligned(keys[160:170], 0) is None  # 20 bits: found anywhere by chance
    assert rollout.aligned(rng.integers(0, 4, 100).tolist(), 0) is None
