"""The draws and log-probabilities a policy-gradient loop makes, as the patched torch calls report them
(measure/actions.py), run in-process under the recorder. Broken: log-softmax gathered at the argmax over the last dim
of time-first (T, B, A) logits, a Gaussian's log-density at its own mean, a second draw from the distribution that
drew the executed action (unbatched, in a handful of recurring states), the detached mean of one unbatched
observation. Healthy: the same shapes at the sampled actions, with an entropy over the action space; two draws
per state both executed and trained; an epsilon-greedy DQN gathering its Q-values (no log-probability); a
decoder drawing one token per step (scheduled sampling) scored on its target sequences, of another form."""
import textwrap

import pytest

from traindoctor.measure.hooks import installed
from traindoctor.measure.recorder import Recorder

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
from torch.distributions import Categorical, Normal
torch.manual_seed(0)
"""

TIME_FIRST = """
T, B, D, A = 6, 8, 5, 4
W = torch.randn(D, A)
policy = nn.Sequential(nn.Linear(D, 16), nn.Tanh(), nn.Linear(16, A))
opt = torch.optim.SGD(policy.parameters(), lr=0.05)
for step in range(8):
    obs = torch.randn(T, B, D)
    logits = policy(obs)
    with torch.no_grad():
        a = Categorical(logits=logits).sample()
        r = (obs @ W).gather(-1, a.unsqueeze(-1)).squeeze(-1)
    logp_all = F.log_softmax(logits, -1)
    logp = logp_all.gather(-1, INDEX).squeeze(-1)
    loss = -(logp * (r - r.mean())).mean() + 0.01 * (logp_all.exp() * logp_all).sum(-1).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""

GAUSSIAN = """
W = torch.randn(4, 2)
mu = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
opt = torch.optim.SGD(mu.parameters(), lr=0.01)
for step in range(8):
    obs = torch.randn(32, 4)
    d = Normal(mu(obs), 0.5)
    act = d.sample()
    r = -((act - obs @ W) ** 2).sum(-1)
    loss = -(d.log_prob(VALUE).sum(-1) * (r - r.mean())).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        greedy = Normal(mu(obs), 0.5).mean
"""

RECURRING = """
N, A = 4, 3
best = torch.randint(A, (N,))
net = nn.Sequential(nn.Linear(N, 16), nn.ReLU(), nn.Linear(16, A))
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for episode in range(10):
    logps, rewards = [], []
    for t in range(8):
        s = int(torch.randint(N, ()))
        dist = Categorical(logits=net(F.one_hot(torch.tensor(s), N).float()))
        action = dist.sample()
        rewards.append(float(action.item() == best[s].item()))
        logps.append(EVALUATED)
    R = torch.tensor(rewards)
    loss = -(torch.stack(logps) * (R - R.mean())).sum()
    opt.zero_grad(); loss.backward(); opt.step()
"""

TWO_DRAWS_BOTH_TRAINED = """
N, A = 4, 3
best = torch.randint(A, (N,))
table = nn.Embedding(N, A)
opt = torch.optim.SGD(table.parameters(), lr=0.1)
for step in range(10):
    s = torch.randint(N, (16,))
    dist = Categorical(logits=table(s))
    a1 = dist.sample()
    a2 = dist.sample()
    r1, r2 = (a1 == best[s]).float(), (a2 == best[s]).float()
    loss = -(dist.log_prob(a2) * (r2 - r1) + dist.log_prob(a1) * (r1 - r2)).mean() / 2
    opt.zero_grad(); loss.backward(); opt.step()
"""

ONE_OBSERVATION = """
net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for episode in range(6):
    logps, rewards = [], []
    for t in range(8):
        s = torch.randn(3)
        m = net(s)
        d = Normal(m, 0.5)
        a = d.sample()
        rewards.append(-float((a - s.sum()) ** 2))
        logps.append(d.log_prob(VALUE).sum())
    R = torch.tensor(rewards)
    loss = -(torch.stack(logps) * (R - R.mean())).sum()
    opt.zero_grad(); loss.backward(); opt.step()
"""

EPSILON_GREEDY_DQN = """
W = torch.randn(6, 3)
q = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
opt = torch.optim.Adam(q.parameters(), lr=1e-3)
for step in range(10):
    s = torch.randn(16, 6)
    with torch.no_grad():
        a = torch.where(torch.rand(16) < 0.1, torch.randint(3, (16,)), q(s).argmax(1))
        r = (s @ W).gather(1, a[:, None]).squeeze(1)
    loss = F.smooth_l1_loss(q(s).gather(1, a[:, None]).squeeze(1), r)
    opt.zero_grad(); loss.backward(); opt.step()
"""

SCHEDULED_SAMPLING = """
B, T, V = 8, 4, 6
class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc, self.emb, self.cell, self.out = nn.Linear(5, 16), nn.Embedding(V, 16), nn.GRUCell(16, 16), nn.Linear(16, V)
    def forward(self, src, tgt):
        h, tok, outs = torch.tanh(self.enc(src)), torch.zeros(len(src), dtype=torch.long), []
        for t in range(T):
            h = self.cell(self.emb(tok), h)
            outs.append(self.out(h))
            with torch.no_grad():
                drawn = torch.multinomial(F.softmax(outs[-1], -1), 1).squeeze(1)
            tok = torch.where(torch.rand(len(src)) < 0.25, drawn, tgt[:, t])
        return torch.stack(outs, 1)
model = Decoder()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(8):
    src = torch.randn(B, 5)
    tgt = (src[:, :T].abs() * 3).long().clamp(max=V - 1)
    loss = -F.log_softmax(model(src, tgt), -1).gather(2, tgt.unsqueeze(2)).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""

ROLLOUT_THEN_UPDATE = """
T, N, D = 6, 8, 3
W = torch.randn(D)
mean = nn.Sequential(nn.Linear(D, 16), nn.Tanh(), nn.Linear(16, 1))
opt = torch.optim.Adam(mean.parameters(), lr=1e-2)
for update in range(6):
    states, actions, rewards = [], [], []
    for t in range(T):
        obs = torch.randn(N, D)
        with torch.no_grad():
            a = Normal(mean(obs).squeeze(-1), 0.3).sample()
        states.append(obs); actions.append(a); rewards.append(-(a - obs @ W) ** 2)
    S, A_, R = torch.stack(states), torch.stack(actions), torch.stack(rewards)   # time × worlds
    d = Normal(mean(S).squeeze(-1), 0.3)
    loss = -(d.log_prob(VALUE) * (R - R.mean())).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""

SERVED = """
U, I = 50, 6
prefs = torch.randn(U, I)
class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.user = nn.Embedding(U, 8)
        self.items = nn.Parameter(torch.randn(I, 8) * 0.1)
    def forward(self, u):
        return self.user(u) @ self.items.T
policy = Policy()
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
for step in range(8):
    users = torch.randint(U, (64,))
    with torch.no_grad():
        served = Categorical(logits=policy(users)).sample()
    reward = prefs[users, served]
    lp = F.log_softmax(policy(users), -1)
    loss = -(READ * (reward - reward.mean())).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""

TOKENS = """
B, V, T = 32, 5, 4
class Gen(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.cell, self.out = nn.Embedding(V, 16), nn.GRUCell(16, 16), nn.Linear(16, V)
gen = Gen()
opt = torch.optim.Adam(gen.parameters(), lr=1e-2)
for it in range(6):
    tok, h, picked, rewards = torch.randint(V, (B,)), torch.zeros(B, 16), [], []
    for t in range(T):
        h = gen.cell(gen.emb(tok), h)
        logits = gen.out(h)
        lp = F.log_softmax(logits, -1)
        nxt = DRAW
        picked.append(READ)
        rewards.append((nxt == (tok + 1) % V).float())
        tok = nxt
    score = torch.stack(rewards).sum(0)
    loss = -(torch.stack(picked).sum(0).reshape(-1)[:B] * (score - score.mean())).mean()
    opt.zero_grad(); loss.backward(); opt.step()
"""
MULTINOMIAL = "torch.multinomial(lp.exp(), 1).squeeze(1)"
CATEGORICAL = "Categorical(logits=logits).sample()"

BROKEN = {
    "time-by-worlds-rollout-drawn-again-at-the-update": ROLLOUT_THEN_UPDATE.replace("VALUE", "d.sample()"),
    "top-item-instead-of-the-served-one": SERVED.replace("READ", "lp.max(dim=-1).values"),
    "top-item-by-torch-max": SERVED.replace("READ", "torch.max(lp, 1)[0]"),
    "token-index-across-rows-multinomial": TOKENS.replace("DRAW", MULTINOMIAL).replace("READ", "lp[:, nxt]"),
    "token-index-across-rows-categorical": TOKENS.replace("DRAW", CATEGORICAL).replace("READ", "lp[..., nxt]"),
    "time-first-argmax-gathered": TIME_FIRST.replace("INDEX", "logits.argmax(-1, keepdim=True)"),
    "gaussian-log-density-at-its-mean": GAUSSIAN.replace("VALUE", "d.mean"),
    "second-draw-in-recurring-states": RECURRING.replace("EVALUATED", "dist.log_prob(dist.sample())"),
    "one-observation-at-the-detached-mean": ONE_OBSERVATION.replace("VALUE", "m.detach()"),
}

HEALTHY = {
    "time-by-worlds-rollout-at-its-actions": ROLLOUT_THEN_UPDATE.replace("VALUE", "A_"),
    "the-served-item": SERVED.replace("READ", "lp.gather(1, served[:, None]).squeeze(1)"),
    "the-served-item-beside-a-greedy-top": SERVED.replace("READ", "lp.gather(1, served[:, None]).squeeze(1)").replace(
        "    with torch.no_grad():\n", "    with torch.no_grad():\n        top = F.log_softmax(policy(users), -1).max(-1)\n"),
    "token-index-row-by-row": TOKENS.replace("DRAW", MULTINOMIAL).replace("READ", "lp[torch.arange(B), nxt]"),
    "token-index-row-by-row-categorical": TOKENS.replace("DRAW", CATEGORICAL).replace(
        "READ", "lp[torch.arange(B), nxt]"),
    "time-first-sampled-gathered": TIME_FIRST.replace("INDEX", "a.unsqueeze(-1)"),
    "gaussian-sampled-mean-for-greedy-evaluation": GAUSSIAN.replace("VALUE", "act"),
    "the-executed-draw-in-recurring-states": RECURRING.replace("EVALUATED", "dist.log_prob(action)"),
    "two-draws-per-state-both-trained": TWO_DRAWS_BOTH_TRAINED,
    "one-observation-at-its-draw": ONE_OBSERVATION.replace("VALUE", "a"),
    "epsilon-greedy-dqn": EPSILON_GREEDY_DQN,
    "scheduled-sampling-targets-scored": SCHEDULED_SAMPLING,
}
UNCHECKED = {"epsilon-greedy-dqn", "scheduled-sampling-targets-scored"}  # Q-values; a sequence where a token was drawn


def watched(source: str) -> Recorder:
    rec = Recorder(max_steps=0)
    with installed(rec):
        exec(textwrap.dedent(PRELUDE + source), {"__name__": "__main__"})
    return rec


@pytest.mark.parametrize("name", BROKEN)
def test_an_action_the_policy_did_not_take_is_found(name):
    seen = watched(BROKEN[name]).actions
    assert seen.checked >= 40, (seen.checked, seen.draws)
    assert seen.untaken >= 0.3 * seen.checked, (seen.untaken, seen.checked)


@pytest.mark.parametrize("name", HEALTHY)
def test_the_action_taken_is_not_found(name):
    seen = watched(HEALTHY[name]).actions
    assert seen.untaken == 0, seen.evaluations
    assert (seen.checked > 0) == (name not in UNCHECKED), seen.checked


def test_a_second_draw_is_named():
    first = watched(BROKEN["second-draw-in-recurring-states"]).actions.evaluations[0]
    assert "second draw" in first["how"] and first["evaluated"] != first["drawn"][0], first
