"""`traindoctor run`, default configuration: a policy-gradient loss trains log π(a|s) only for the action the
policy drew in `s`. Broken: a fresh draw at the update, the next state stored with each action (also in a one-hot
world where every action is drawn in every state), a second draw from the distribution that drew the executed
action, minibatch states shuffled apart from their actions, the argmax index gathered instead of the sampled one,
a rollout's actions kept for the next. Healthy look-alikes: log_prob
right after sampling (pytorch/examples' reinforce and actor_critic), PPO minibatches shuffled with one index and
an old policy acting, a Gaussian policy's stored actions, SAC's reparameterised fresh sample, one-hot states that
recur, two actions drawn per state with an entropy enumerated over the actions, a shared model called on the next
states first."""
import contextlib
import io
import runpy

import pytest

from conftest import codes
from traindoctor import run_script
from traindoctor.judge import actions as rule

CODE = "log-prob-of-untaken-action"

PRELUDE = """
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
from torch.distributions import Categorical, Normal
torch.manual_seed(0)
rng = np.random.default_rng(0)
T, GAMMA = 12, 0.95

class Cart:  # n points pushed left / not / right (or by a float); reward: stay near the origin
    def __init__(self, n=1):
        self.n = n
    def reset(self):
        self.s = rng.uniform(-1, 1, (self.n, 2)).astype(np.float32)
        return self.s.copy()
    def step(self, a):
        a = np.asarray(a).reshape(self.n)
        force = a - 1.0 if a.dtype.kind in "iu" else a.astype(np.float32)
        self.s[:, 1] = np.clip(self.s[:, 1] + 0.1 * force + rng.normal(0, 0.01, self.n), -2, 2)
        self.s[:, 0] = np.clip(self.s[:, 0] + 0.1 * self.s[:, 1], -3, 3)
        return self.s.copy(), -(self.s[:, 0] ** 2)

def to_go(rewards):
    g, out = 0.0, []
    for r in reversed(rewards):
        g = r + GAMMA * g
        out.insert(0, g)
    return out

def to_go_columns(rewards):  # (T, N) rewards of N parallel episodes -> (T * N,) returns, time-major
    return torch.tensor(np.array([to_go(list(c)) for c in np.array(rewards).T]).T.copy(), dtype=torch.float32).reshape(-1)
"""

PPO = """
N = 6
policy = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 3))
value = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1))
opt = torch.optim.Adam(list(policy.parameters()) + list(value.parameters()), 3e-3)
env = Cart(N)
for it in range(3):
    buf_s, buf_a, buf_lp, buf_r = [], [], [], []
    s = torch.tensor(env.reset())
    for t in range(T):
        with torch.no_grad():
            dist = Categorical(logits=policy(s))
            a = dist.sample()
        buf_s.append(s); buf_a.append(a); buf_lp.append(dist.log_prob(a))
        s2, r = env.step(a.numpy())
        buf_r.append(r); s = torch.tensor(s2)
    S, A, LP, G = torch.cat(buf_s), torch.cat(buf_a), torch.cat(buf_lp), to_go_columns(buf_r)
    for epoch in range(3):
        perm = torch.randperm(len(S))
        for k in range(0, len(S), 24):
            idx = perm[k:k + 24]
            s_mb, g_mb = S[idx], G[idx]
            a_mb, lp_mb = {ACTIONS}
            dist = Categorical(logits=policy(s_mb))
            adv = g_mb - value(s_mb).squeeze(1).detach()
            ratio = (dist.log_prob(a_mb) - lp_mb).exp()
            pg = -torch.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean()
            loss = pg + 0.5 * (value(s_mb).squeeze(1) - g_mb).pow(2).mean() - 0.01 * dist.entropy().mean()
            opt.zero_grad(); loss.backward(); opt.step()
            print(f"loss {loss.item():.9f}")
"""

BROKEN = {
    "fresh-draw-at-update": """
policy = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 3))
opt = torch.optim.Adam(policy.parameters(), 1e-2)
env = Cart()
for it in range(15):
    states, rewards = [], []
    s = env.reset()
    for t in range(T):
        st = torch.from_numpy(s[0])
        with torch.no_grad():
            a = Categorical(logits=policy(st)).sample()
        states.append(st)
        s, r = env.step([a.item()])
        rewards.append(float(r[0]))
    G = torch.tensor(to_go(rewards)); G = (G - G.mean()) / (G.std() + 1e-8)
    dist = Categorical(logits=policy(torch.stack(states)))
    loss = -(dist.log_prob(dist.sample()) * G).mean()          # a new draw, not the actions taken
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "next-state-stored-gather": """
class AC(nn.Module):
    def __init__(self):
        super().__init__(); self.body = nn.Sequential(nn.Linear(2, 32), nn.ReLU()); self.pi = nn.Linear(32, 3); self.v = nn.Linear(32, 1)
    def forward(self, x):
        h = self.body(x); return self.pi(h), self.v(h).squeeze(-1)
model = AC(); opt = torch.optim.Adam(model.parameters(), 3e-3)
env = Cart()
for it in range(15):
    states, actions, rewards = [], [], []
    s = env.reset()
    for t in range(T):
        with torch.no_grad():
            logits, _ = model(torch.tensor(s[0]))
        a = torch.multinomial(F.softmax(logits, -1), 1).item()
        s, r = env.step([a])
        states.append(s[0].copy())                              # the state after the action
        actions.append(a); rewards.append(float(r[0]))
    logits, v = model(torch.tensor(np.array(states)))
    ret = torch.tensor(to_go(rewards), dtype=torch.float32)
    logp = F.log_softmax(logits, 1).gather(1, torch.tensor(actions).unsqueeze(1)).squeeze(1)
    loss = -(logp * (ret - v.detach())).mean() + 0.5 * (v - ret).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "ppo-minibatch-actions-unshuffled": PPO.replace("{ACTIONS}", "A[k:k + 24], LP[k:k + 24]"),
    "conv-argmax-gathered": """
class ConvPolicy(nn.Module):
    def __init__(self):
        super().__init__(); self.c = nn.Conv2d(1, 4, 3); self.f = nn.Linear(4 * 16, 3)
    def forward(self, img):
        return F.softmax(self.f(F.relu(self.c(img)).flatten(1)), -1)
def render(s):
    ramp = np.linspace(-1, 1, 6, dtype=np.float32)
    img = s[:, :1, None] * ramp[None, :, None] + s[:, 1:, None] * ramp[None, None, :]
    return torch.tensor(img[:, None] + rng.normal(0, 0.05, (len(s), 1, 6, 6)).astype(np.float32))
policy = ConvPolicy(); opt = torch.optim.SGD(policy.parameters(), 0.05)
env = Cart(4)
for it in range(10):
    imgs, rewards = [], []
    s = env.reset()
    for t in range(T):
        x = render(s)
        a = torch.multinomial(policy(x).detach(), 1)
        imgs.append(x)
        s, r = env.step(a.squeeze(1).numpy()); rewards.append(r)
    P = policy(torch.cat(imgs)); G = to_go_columns(rewards)
    logp = torch.log(P).gather(1, P.argmax(1, keepdim=True)).squeeze(1)   # the greedy index, not the sampled one
    loss = -(logp * (G - G.mean())).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "one-hot-chain-next-state-stored": """
N, C = 16, 6
policy = nn.Sequential(nn.Linear(C, 32), nn.ReLU(), nn.Linear(32, 3))
opt = torch.optim.Adam(policy.parameters(), 3e-3)
pos = torch.zeros(N, dtype=torch.long)
for it in range(12):
    S, A, R = [], [], []
    for t in range(T):
        with torch.no_grad():
            a = Categorical(logits=policy(F.one_hot(pos, C).float())).sample()
        pos = torch.clamp(pos + a - 1, 0, C - 1)
        S.append(F.one_hot(pos, C).float()); A.append(a)       # the state after the action
        R.append((pos == C - 1).float().numpy())
    dist = Categorical(logits=policy(torch.cat(S)))
    loss = -(dist.log_prob(torch.cat(A)) * to_go_columns(R)).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "second-draw-per-step-one-hot": """
C = 5
best = torch.randint(0, 3, (C,))
net = nn.Sequential(nn.Linear(C, 32), nn.ReLU(), nn.Linear(32, 3))
opt = torch.optim.Adam(net.parameters(), 1e-2)
for episode in range(12):
    log_probs, rewards = [], []
    for t in range(T):
        c = int(rng.integers(C))
        dist = Categorical(logits=net(F.one_hot(torch.tensor(c), C).float()))
        a = dist.sample()                                        # executed
        rewards.append(float(a.item() == best[c].item()))
        log_probs.append(dist.log_prob(dist.sample()))           # a second draw, not the action taken
    R = torch.tensor(rewards)
    loss = -(torch.stack(log_probs) * (R - R.mean())).sum()
    opt.zero_grad(); loss.backward(); opt.step()
    print("episode", episode, "total reward", R.sum().item())
""",
    "first-rollout-actions-kept": """
N = 4
policy = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 3))
opt = torch.optim.RMSprop(policy.parameters(), 3e-3)
env = Cart(N)
actions = []
for it in range(15):
    states, rewards = [], []
    s = env.reset()
    for t in range(T):
        x = torch.as_tensor(s)
        with torch.no_grad():
            a = Categorical(logits=policy(x)).sample()
        states.append(x); actions.append(a)
        s, r = env.step(a.numpy()); rewards.append(r)
    dist = Categorical(logits=policy(torch.cat(states)))
    loss = -(dist.log_prob(torch.cat(actions[:T])) * to_go_columns(rewards)).mean()   # never cleared
    opt.zero_grad(); loss.backward(); opt.step()
""",
}

HEALTHY = {
    "reinforce-saved-log-probs": """
class Policy(nn.Module):
    def __init__(self):
        super().__init__(); self.l1 = nn.Linear(2, 32); self.l2 = nn.Linear(32, 3)
        self.saved_log_probs, self.rewards = [], []
    def forward(self, x):
        return F.softmax(self.l2(F.relu(self.l1(x))), -1)
policy = Policy(); opt = torch.optim.Adam(policy.parameters(), 1e-2)
env = Cart()
for it in range(15):
    s = env.reset()
    for t in range(T):
        m = Categorical(policy(torch.from_numpy(s[0]).unsqueeze(0)))
        a = m.sample()
        policy.saved_log_probs.append(m.log_prob(a))
        s, r = env.step([a.item()]); policy.rewards.append(float(r[0]))
    G = torch.tensor(to_go(policy.rewards)); G = (G - G.mean()) / (G.std() + 1e-8)
    loss = torch.cat([-lp * g for lp, g in zip(policy.saved_log_probs, G)]).sum()
    opt.zero_grad(); loss.backward(); opt.step()
    del policy.saved_log_probs[:], policy.rewards[:]
""",
    "actor-critic-saved-actions": """
class Policy(nn.Module):
    def __init__(self):
        super().__init__(); self.affine1 = nn.Linear(2, 64); self.action_head = nn.Linear(64, 3); self.value_head = nn.Linear(64, 1)
    def forward(self, x):
        x = F.relu(self.affine1(x)); return F.softmax(self.action_head(x), dim=-1), self.value_head(x)
model = Policy(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
env = Cart()
for it in range(15):
    s = env.reset(); saved, rewards = [], []
    for t in range(T):
        probs, v = model(torch.from_numpy(s[0]).float())
        m = Categorical(probs); a = m.sample()
        saved.append((m.log_prob(a), v))
        s, r = env.step([a.item()]); rewards.append(float(r[0]))
    returns = torch.tensor(to_go(rewards))
    loss = sum(-lp * (R - v.item()) + F.smooth_l1_loss(v, torch.tensor([R])) for (lp, v), R in zip(saved, returns))
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "ppo-minibatches-shuffled-together": PPO.replace("{ACTIONS}", "A[idx], LP[idx]"),
    "ppo-old-policy-evaluate": """
class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 3), nn.Softmax(dim=-1))
        self.critic = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1))
    def act(self, state):
        dist = Categorical(self.actor(state)); a = dist.sample(); return a.detach(), dist.log_prob(a).detach()
    def evaluate(self, state, action):
        dist = Categorical(self.actor(state))
        return dist.log_prob(action), self.critic(state).squeeze(-1), dist.entropy()
policy = ActorCritic(); policy_old = ActorCritic(); policy_old.load_state_dict(policy.state_dict())
opt = torch.optim.Adam(policy.parameters(), 3e-3)
env = Cart()
for it in range(5):
    S, A, LP, R = [], [], [], []
    for ep in range(3):
        s = env.reset(); rewards = []
        for t in range(T):
            st = torch.FloatTensor(s[0])
            with torch.no_grad():
                a, lp = policy_old.act(st)
            S.append(st); A.append(a); LP.append(lp)
            s, r = env.step([a.item()]); rewards.append(float(r[0]))
        R += to_go(rewards)
    old_s, old_a, old_lp = torch.stack(S), torch.stack(A), torch.stack(LP)
    G = torch.tensor(R, dtype=torch.float32); G = (G - G.mean()) / (G.std() + 1e-7)
    for _ in range(3):
        logp, v, ent = policy.evaluate(old_s, old_a)
        ratio = torch.exp(logp - old_lp); adv = G - v.detach()
        loss = -torch.min(ratio * adv, torch.clamp(ratio, 0.8, 1.2) * adv) + 0.5 * F.mse_loss(v, G) - 0.01 * ent
        opt.zero_grad(); loss.mean().backward(); opt.step()
    policy_old.load_state_dict(policy.state_dict())
""",
    "gaussian-stored-actions-entropy": """
N = 4
class Gauss(nn.Module):
    def __init__(self):
        super().__init__(); self.mu = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1)); self.log_std = nn.Parameter(torch.zeros(1))
    def forward(self, x):
        return Normal(self.mu(x), self.log_std.exp())
policy = Gauss(); opt = torch.optim.Adam(policy.parameters(), 3e-3)
env = Cart(N)
for it in range(15):
    S, A, R = [], [], []
    s = env.reset()
    for t in range(T):
        x = torch.tensor(s)
        with torch.no_grad():
            a = policy(x).sample()
        S.append(x); A.append(a)
        s, r = env.step(a.squeeze(1).clamp(-1, 1).numpy()); R.append(r)
    G = to_go_columns(R)
    dist = policy(torch.cat(S))
    loss = -(dist.log_prob(torch.cat(A)).squeeze(1) * (G - G.mean())).mean() - 0.01 * dist.entropy().mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "sac-reparameterised-fresh-sample": """
N = 4
class Actor(nn.Module):
    def __init__(self):
        super().__init__(); self.net = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    def forward(self, x):
        mu, log_std = self.net(x).chunk(2, -1); return Normal(mu, log_std.clamp(-5, 1).exp())
actor = Actor(); q = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))
opt_a = torch.optim.Adam(actor.parameters(), 1e-3); opt_q = torch.optim.Adam(q.parameters(), 1e-3)
env = Cart(N); replay = []
s = env.reset()
for step in range(40):
    x = torch.tensor(s)
    with torch.no_grad():
        a = actor(x).sample()
    s2, r = env.step(a.squeeze(1).clamp(-1, 1).numpy())
    replay += list(zip(x, a, torch.tensor(r))); s = s2
    if len(replay) < 32: continue
    idx = rng.choice(len(replay), 32, replace=False)
    bs, ba, br = (torch.stack([replay[i][k] for i in idx]) for k in range(3))
    q_loss = (q(torch.cat([bs, ba], 1)).squeeze(1) - br).pow(2).mean()
    opt_q.zero_grad(); q_loss.backward(); opt_q.step()
    dist = actor(bs); new_a = dist.rsample()                     # a fresh action, by design: gradients flow through it
    a_loss = (0.1 * dist.log_prob(new_a).sum(1) - q(torch.cat([bs, new_a], 1)).squeeze(1)).mean()
    opt_a.zero_grad(); a_loss.backward(); opt_a.step()
""",
    "one-hot-states-recur": """
N, C = 8, 6
policy = nn.Sequential(nn.Linear(C, 16), nn.ReLU(), nn.Linear(16, 2))
opt = torch.optim.Adam(policy.parameters(), 1e-2)
for it in range(15):
    pos = np.zeros(N, dtype=np.int64); S, A, R = [], [], []
    for t in range(T):
        x = F.one_hot(torch.as_tensor(pos), C).float()
        dist = Categorical(logits=policy(x)); a = dist.sample()
        S.append(x); A.append(a)
        pos = np.clip(pos + (a.numpy() * 2 - 1), 0, C - 1); R.append((pos == C - 1).astype(np.float32))
    G = to_go_columns(R)
    dist = Categorical(logits=policy(torch.cat(S)))
    loss = -(dist.log_prob(torch.cat(A)) * (G - G.mean())).mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "two-draws-per-context-entropy-enumerated": """
N, C, K = 48, 4, 3
best = torch.randint(0, K, (C,))
policy = nn.Sequential(nn.Linear(C, 16), nn.ReLU(), nn.Linear(16, K))
opt = torch.optim.Adam(policy.parameters(), 1e-2)
for it in range(12):
    ctx = torch.randint(0, C, (N,)); x = F.one_hot(ctx, C).float()
    with torch.no_grad():
        d = Categorical(logits=policy(x)); a1 = d.sample(); a2 = d.sample()   # both acted on
    r1, r2 = (a1 == best[ctx]).float(), (a2 == best[ctx]).float()
    d = Categorical(logits=policy(x))
    entropy = -sum(d.log_prob(torch.full_like(a1, k)).exp() * d.log_prob(torch.full_like(a1, k)) for k in range(K))
    loss = -(d.log_prob(a1) * (r1 - r2) + d.log_prob(a2) * (r2 - r1)).mean() / 2 - 0.01 * entropy.mean()
    opt.zero_grad(); loss.backward(); opt.step()
""",
    "a2c-next-state-values-first": """
N = 8
class AC(nn.Module):
    def __init__(self):
        super().__init__(); self.body = nn.Sequential(nn.Linear(2, 32), nn.Tanh()); self.pi = nn.Linear(32, 3); self.v = nn.Linear(32, 1)
    def forward(self, x):
        h = self.body(x); return self.pi(h), self.v(h).squeeze(-1)
model = AC(); opt = torch.optim.RMSprop(model.parameters(), 7e-4)
env = Cart(N)
s = torch.tensor(env.reset())
for step in range(60):
    logits, v = model(s)
    with torch.no_grad():
        a = torch.multinomial(F.softmax(logits, -1), 1).squeeze(1)
    s2, r = env.step(a.numpy()); s2 = torch.tensor(s2)
    _, v_next = model(s2)
    dist = Categorical(logits=logits)                            # built after the call on the next states
    adv = torch.tensor(r) + GAMMA * v_next.detach() - v
    loss = -(dist.log_prob(a) * adv.detach()).mean() + 0.5 * adv.pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    s = s2
""",
}


# the same actor-critic, each action stored with the state it was drawn in
HEALTHY["gather-of-stored-actions"] = BROKEN["next-state-stored-gather"].replace(
    """        s, r = env.step([a])
        states.append(s[0].copy())                              # the state after the action
""", """        states.append(s[0].copy())
        s, r = env.step([a])
""")
assert HEALTHY["gather-of-stored-actions"] != BROKEN["next-state-stored-gather"]


@pytest.mark.parametrize("name", BROKEN)
def test_untaken_actions_found(run_code, name):
    report = run_code(PRELUDE + BROKEN[name])
    assert CODE in codes(report), (name, codes(report))
    assert codes(report, ("error",))[0] == CODE, (name, codes(report))
    found = next(f for f in report.findings if f.code == CODE)
    assert found.evidence["untaken"] >= 0.3 * found.evidence["checked"], found.evidence
    assert found.location.get("line"), found.location


def test_a_fresh_draw_is_named(run_code):
    report = run_code(PRELUDE + BROKEN["fresh-draw-at-update"])
    found = next(f for f in report.findings if f.code == CODE)
    assert found.evidence["redraws"] > 0
    assert "fresh draw" in found.observation


@pytest.fixture
def tallies(monkeypatch):
    """What the rule was given: how many evaluated rows it could check against the draws."""
    seen = {}
    check = rule.check

    def spy(rec):
        seen.update(checked=rec.actions.checked, untaken=rec.actions.untaken)
        return check(rec)
    monkeypatch.setattr(rule, "check", spy)
    return seen


@pytest.mark.parametrize("name", HEALTHY)
def test_actions_taken_are_not_findings(run_code, tallies, name):
    report = run_code(PRELUDE + HEALTHY[name])
    assert CODE not in codes(report, ("error", "warning", "info")), (name, codes(report))
    assert tallies["untaken"] == 0, tallies
    # every look-alike is checked, but the reparameterised sample: its log-prob is a pathwise term
    assert (tallies["checked"] > 0) == (name != "sac-reparameterised-fresh-sample"), tallies


def test_watching_draws_leaves_the_losses_unchanged(tmp_path):
    """The draws and evaluations are only read: the sampled actions, hence the losses, are the same under run."""
    script = tmp_path / "ppo.py"
    script.write_text(PRELUDE + HEALTHY["ppo-minibatches-shuffled-together"])
    plain = io.StringIO()
    with contextlib.redirect_stdout(plain):
        runpy.run_path(str(script), run_name="__main__")
    watched = io.StringIO()
    run_script(script, max_steps=0, experiments_=False, stdout=watched)
    assert "loss" in plain.getvalue()
    assert watched.getvalue() == plain.getvalue()
