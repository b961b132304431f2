"""`traindoctor run` with its defaults on value-based RL: a target network that never follows the network it
copies is `target-network-stale` when the run proves it (a sync that copies nothing new or copies the wrong
way, a script run to its end without one), and a TD target that bootstraps through terminal transitions is
`terminal-bootstrap`. Periodic and Polyak syncs, EMA and frozen teachers, done masking, n-step and SARSA
targets, terminated-vs-truncated and continuing tasks are quiet; a sync period longer than the step budget,
and a flag that may be a time limit, are said to be unchecked."""
import pytest

from conftest import codes

PRELUDE = """
import copy
from collections import namedtuple
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0); g = torch.Generator().manual_seed(0)
N, GOAL, GAMMA = 8, 7, 0.9
def mlp(): return nn.Sequential(nn.Linear(N, 32), nn.ReLU(), nn.Linear(32, 2))
S, A, R, S2, TERM, TRUNC = [], [], [], [], [], []
pos, t = 3, 0
for i in range(1500):  # a random walk on a corridor: the goal ends an episode, 12 steps truncate it
    a = int(torch.randint(0, 2, (1,), generator=g)); nxt = min(max(pos + 2 * a - 1, 0), N - 1); t += 1
    term = nxt == GOAL; trunc = t >= 12 and not term
    S.append(pos); A.append(a); R.append(1.0 if term else -0.01); S2.append(nxt); TERM.append(term); TRUNC.append(trunc)
    pos, t = (int(torch.randint(2, 6, (1,), generator=g)), 0) if term or trunc else (nxt, t)
S, S2 = F.one_hot(torch.tensor(S), N).float(), F.one_hot(torch.tensor(S2), N).float()
A, R, TERM, TRUNC = torch.tensor(A), torch.tensor(R), torch.tensor(TERM).float(), torch.tensor(TRUNC).float()
def sample(n=32):
    i = torch.randint(0, len(A), (n,), generator=g)
    return S[i], A[i], R[i], S2[i], TERM[i]
"""

DQN = """
q = mlp(); tgt = copy.deepcopy(q); opt = torch.optim.Adam(q.parameters(), lr=1e-2)
for step in range(STEPS):
    s, a, r, s2, d = sample()
    q_sa = q(s).gather(1, a[:, None]).squeeze(1)
    with torch.no_grad():
        y = TARGET
    loss = F.mse_loss(q_sa, y)
    opt.zero_grad(); loss.backward(); opt.step()
    SYNC
"""
MASKED = "r + GAMMA * (1 - d) * tgt(s2).max(1).values"


def dqn(steps=150, target=MASKED, sync="if step % 25 == 24: tgt.load_state_dict(q.state_dict())"):
    return DQN.replace("STEPS", str(steps)).replace("TARGET", target).replace("SYNC", sync)


COUNTER_NEVER_INCREMENTED = """
class Agent:
    def __init__(self):
        self.q = nn.Sequential(nn.Linear(N, 48), nn.Tanh(), nn.Linear(48, 2)); self.q_target = copy.deepcopy(self.q)
        self.opt = torch.optim.SGD(self.q.parameters(), lr=0.05); self.counter, self.sync_every = 0, 25
    def learn(self, s, a, r, s2, d):
        qs = self.q(s).gather(1, a[:, None]).squeeze(1)
        with torch.no_grad():
            y = r + GAMMA * (1 - d) * self.q_target(s2).max(1).values
        loss = F.smooth_l1_loss(qs, y)
        self.opt.zero_grad(); loss.backward(); self.opt.step()
        if self.counter > 0 and self.counter % self.sync_every == 0:  # the counter is never incremented
            self.q_target.load_state_dict(self.q.state_dict())
agent = Agent()
for step in range(45):
    agent.learn(*sample(16))
"""

DEEPCOPY_TO_A_LOCAL = """
class ConvQ(nn.Module):
    def __init__(self):
        super().__init__(); self.c = nn.Conv1d(1, 4, 3, padding=1); self.h = nn.Linear(4 * N, 2)
    def forward(self, x): return self.h(F.relu(self.c(x[:, None])).flatten(1))
q = ConvQ(); target = copy.deepcopy(q); opt = torch.optim.Adam(q.parameters(), lr=3e-3)
def refresh():
    target = copy.deepcopy(q)  # a local: the global target stays the first copy
def td_loss(s, a, r, s2, d):
    with torch.no_grad():
        nxt = target(s2).max(1).values
    return ((q(s).gather(1, a[:, None]).squeeze(1) - (r + GAMMA * (1 - d) * nxt)) ** 2).mean()
for step in range(120):
    loss = td_loss(*sample())
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 20 == 0:
        refresh()
"""

SOFT_UPDATE = """
class Critic(nn.Module):
    def __init__(self): super().__init__(); self.f = nn.Sequential(nn.Linear(N + 1, 32), nn.ReLU(), nn.Linear(32, 1))
    def forward(self, s, a): return self.f(torch.cat([s, a], 1)).squeeze(1)
critic = Critic(); critic_t = Critic(); critic_t.load_state_dict(critic.state_dict())
opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
for step in range(STEPS):
    s, _, r, s2, d = sample(64); a = torch.rand(64, 1, generator=g) * 2 - 1
    with torch.no_grad():
        y = r + 0.95 * (1 - d) * critic_t(s2, torch.tanh(s2.sum(1, keepdim=True)))
    loss = F.mse_loss(critic(s, a), y)
    opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        for tp, p in zip(critic_t.parameters(), critic.parameters()):
            UPDATE
"""

MEAN_TEACHER = """
student = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3)); teacher = copy.deepcopy(student)
opt = torch.optim.SGD(student.parameters(), lr=0.1); W = torch.randn(10, 3)
for step in range(120):
    x = torch.randn(64, 10); y = (x @ W).argmax(1)
    out = student(x + 0.1 * torch.randn_like(x))
    with torch.no_grad():
        soft = teacher(x + 0.1 * torch.randn_like(x)).softmax(1)
    loss = F.cross_entropy(out[:16], y[:16]) + F.mse_loss(out.softmax(1), soft)
    opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        for tp, p in zip(teacher.parameters(), student.parameters()):
            tp.mul_(0.99).add_(0.01 * p)
"""

FROZEN_TEACHER = """
def net(): return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))
teacher = net()  # as loaded from a checkpoint: another network than the student
student = net(); opt = torch.optim.Adam(student.parameters(), lr=1e-2)
for step in range(100):
    x = torch.randn(64, 10)
    with torch.no_grad():
        soft = F.softmax(teacher(x + 0.05 * torch.randn_like(x)) / 2, 1)
    loss = F.mse_loss(F.softmax(student(x) / 2, 1), soft)
    opt.zero_grad(); loss.backward(); opt.step()
"""

REFERENCE_COPY = """
policy = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4)); ref = copy.deepcopy(policy)
opt = torch.optim.Adam(policy.parameters(), lr=3e-3); W = torch.randn(10, 4)
for step in range(120):
    x = torch.randn(64, 10)
    with torch.no_grad():
        ref_logp = F.log_softmax(ref(x), 1)
    logp = F.log_softmax(policy(x), 1)
    loss = -(logp.exp() * (x @ W)).sum(1).mean() + 0.1 * F.kl_div(ref_logp, logp, log_target=True, reduction="batchmean")
    opt.zero_grad(); loss.backward(); opt.step()
"""

FRESH_COPY = """
class Agent:
    def __init__(self):
        self.q = mlp(); self.tgt = copy.deepcopy(self.q); self.opt = torch.optim.Adam(self.q.parameters(), lr=1e-2)
agent = Agent()
for step in range(150):
    s, a, r, s2, d = sample()
    with torch.no_grad():
        y = r + GAMMA * (1 - d) * agent.tgt(s2).max(1).values
    loss = F.mse_loss(agent.q(s).gather(1, a[:, None]).squeeze(1), y)
    agent.opt.zero_grad(); loss.backward(); agent.opt.step()
    if step % 30 == 0:
        agent.tgt = copy.deepcopy(agent.q)
"""

STALE = {
    "counter-never-incremented": COUNTER_NEVER_INCREMENTED,
    "sync-copies-target-into-online": dqn(400, sync="if step % 40 == 39: q.load_state_dict(tgt.state_dict())"),
    "deepcopy-assigned-to-a-local": DEEPCOPY_TO_A_LOCAL,
    "stale-saved-state-dict": dqn(400, sync="if step % 30 == 29: tgt.load_state_dict(START)").replace(
        "for step", "START = copy.deepcopy(q.state_dict())\nfor step"),
    "soft-update-tau-zero": SOFT_UPDATE.replace("STEPS", "400").replace("UPDATE", "tp.mul_(1 - 0.0).add_(0.0 * p)"),
}
FOLLOWING = {
    "periodic-sync": dqn(),
    "polyak-on-data": dqn(150, sync="for tp, p in zip(tgt.parameters(), q.parameters()): "
                                    "tp.data.copy_(0.01 * p.data + 0.99 * tp.data)"),
    "soft-update": SOFT_UPDATE.replace("STEPS", "150").replace("UPDATE", "tp.mul_(1 - 0.005).add_(0.005 * p)"),
    "mean-teacher-ema": MEAN_TEACHER,
    "frozen-pretrained-teacher": FROZEN_TEACHER,
    "frozen-reference-copy-on-the-same-batch": REFERENCE_COPY,
    "fresh-copy-assigned-to-the-attribute": FRESH_COPY,
}


@pytest.mark.parametrize("name", STALE)
def test_a_target_network_that_never_follows(run_code, name):
    r = run_code(PRELUDE + STALE[name])
    assert codes(r)[:1] == ["target-network-stale"], [(f.code, f.observation) for f in r.findings]


@pytest.mark.parametrize("name", FOLLOWING)
def test_a_target_that_follows_or_a_teacher_is_quiet(run_code, name):
    r = run_code(PRELUDE + FOLLOWING[name])
    assert "target-network-stale" not in codes(r, ("error", "warning", "info")), [(f.code, f.observation) for f in r.findings]
    assert not any("target network" in note for note in r.unchecked), r.unchecked


def test_a_sync_period_beyond_the_step_budget_is_not_judged(run_code):
    r = run_code(PRELUDE + dqn(400, sync="if step % 1000 == 999: tgt.load_state_dict(q.state_dict())"))
    assert "target-network-stale" not in codes(r, ("error", "warning", "info"))
    note, = [n for n in r.unchecked if "target network synced less often" in n]
    assert "300 steps" in note


NAMEDTUPLE_CRITIC = """
Batch = namedtuple("Batch", "obs reward next_obs dones")
value = nn.Sequential(nn.Linear(N, 64), nn.ReLU(), nn.Linear(64, 1)); opt = torch.optim.RMSprop(value.parameters(), lr=1e-3)
for step in range(150):
    s, _, r, s2, d = sample(48); b = Batch(s, r, s2, d.bool())
    with torch.no_grad():
        target = b.reward + 0.97 * value(b.next_obs).squeeze(1)  # b.dones never stops the bootstrap
    loss = F.huber_loss(value(b.obs).squeeze(1), target)
    opt.zero_grad(); loss.backward(); opt.step()
"""

NUMPY_FLAGS = """
q = mlp(); tgt = copy.deepcopy(q); opt = torch.optim.Adam(q.parameters(), lr=1e-2)
rows = list(zip(S.argmax(1).tolist(), A.tolist(), R.tolist(), S2.argmax(1).tolist(), (TERM + TRUNC).bool().tolist()))
rng = np.random.default_rng(0)
for step in range(150):
    bs, ba, br, bs2, bd = map(np.array, zip(*[rows[i] for i in rng.integers(0, len(rows), 32)]))
    q_sa = q(F.one_hot(torch.from_numpy(bs), N).float()).gather(1, torch.from_numpy(ba)[:, None]).squeeze(1)
    with torch.no_grad():
        y = torch.from_numpy(br).float() + GAMMA * tgt(F.one_hot(torch.from_numpy(bs2), N).float()).max(1).values
    loss = F.mse_loss(q_sa, y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 25 == 24: tgt.load_state_dict(q.state_dict())
"""

TERMINATED_TRUNCATED = """
q = mlp(); tgt = copy.deepcopy(q); opt = torch.optim.Adam(q.parameters(), lr=1e-2)
for step in range(STEPS):
    i = torch.randint(0, len(A), (32,), generator=g)
    s, a, r, s2, terminated, truncated = S[i], A[i], R[i], S2[i], TERM[i], TRUNC[i].bool()
    with torch.no_grad():
        y = r + GAMMA * (1 - terminated) * tgt(s2).max(1).values  # a time limit bootstraps
    loss = F.mse_loss(q(s).gather(1, a[:, None]).squeeze(1), y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 25 == 24: tgt.load_state_dict(q.state_dict())
"""

EXPECTED_SARSA_NSTEP = """
q = mlp(); opt = torch.optim.Adam(q.parameters(), lr=5e-3)
for step in range(150):
    pos = torch.randint(0, N - 1, (40,), generator=g); a = torch.randint(0, 2, (40,), generator=g)
    p1 = (pos + 2 * a - 1).clamp(0, N - 1); a1 = torch.randint(0, 2, (40,), generator=g)
    p2 = (p1 + 2 * a1 - 1).clamp(0, N - 1); done1 = p1 == GOAL; dones = (done1 | (p2 == GOAL)).float()
    ret = done1.float() - 0.01 + GAMMA * (~done1).float() * ((p2 == GOAL).float() - 0.01)  # a two-step return
    with torch.no_grad():
        q2 = q(F.one_hot(p2, N).float()); pi = F.softmax(q2 / 0.5, 1)
        y = ret + GAMMA ** 2 * (1 - dones) * (pi * q2).sum(1)
    loss = F.mse_loss(q(F.one_hot(pos, N).float()).gather(1, a[:, None]).squeeze(1), y)
    opt.zero_grad(); loss.backward(); opt.step()
"""

CONTINUING = """
K = 6
q = nn.Sequential(nn.Linear(K, 32), nn.ReLU(), nn.Linear(32, 3)); tgt = copy.deepcopy(q)
opt = torch.optim.Adam(q.parameters(), lr=3e-3)
for step in range(150):
    st = torch.randint(0, K, (32,), generator=g); a = torch.randint(0, 3, (32,), generator=g)
    st2 = (st + a - 1) % K; r = (st2 == 0).float(); at_start = r.bool()  # a ring: no state ends anything
    with torch.no_grad():
        y = r + 0.9 * tgt(F.one_hot(st2, K).float()).max(1).values
    loss = F.mse_loss(q(F.one_hot(st, K).float()).gather(1, a[:, None]).squeeze(1), y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 25 == 24: tgt.load_state_dict(q.state_dict())
"""

BOOTSTRAPS_TERMINALS = {
    "done-ignored": dqn(target="r + GAMMA * tgt(s2).max(1).values"),
    "done-multiplies-the-reward": dqn(target="r * (1 - d) + GAMMA * tgt(s2).max(1).values"),
    "done-mask-inverted": dqn(target="r + GAMMA * d * tgt(s2).max(1).values"),
    "numpy-flags-from-the-replay": NUMPY_FLAGS,
}
MASKS_TERMINALS = {
    "done-masked": dqn(),
    "done-masked-in-place": dqn(target="r + GAMMA * tgt(s2).max(1).values.masked_fill(d.bool(), 0.0)"),
    "terminated-not-truncated": TERMINATED_TRUNCATED.replace("STEPS", "150"),
    "expected-sarsa-two-step": EXPECTED_SARSA_NSTEP,
    "continuing-task": CONTINUING,
}


@pytest.mark.parametrize("name", BOOTSTRAPS_TERMINALS)
def test_a_td_target_that_bootstraps_terminal_transitions(run_code, name):
    r = run_code(PRELUDE + BOOTSTRAPS_TERMINALS[name])
    assert codes(r)[:1] == ["terminal-bootstrap"], [(f.code, f.observation) for f in r.findings]


def test_a_critic_bootstrapping_from_itself_is_not_probed(run_code):
    # Known blind spot: the probe hands out forward-AD dual tensors only for models no optimizer trains (a target
    # network, a frozen teacher) — a trained model's no-grad outputs may reach its own double backward (a GAN's
    # gradient penalty), where forward AD has no formula and the script would raise.
    r = run_code(PRELUDE + NAMEDTUPLE_CRITIC)
    assert "terminal-bootstrap" not in codes(r) and "script-error" not in codes(r)


def test_a_frozen_encoders_outputs_in_a_knn_evaluation_are_left_alone(run_code):
    # cdist has no forward-AD formula: a dual tensor handed to an evaluation made the script raise under run.
    r = run_code("""
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
enc = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))  # frozen pretrained encoder
head = nn.Linear(8, 3); opt = torch.optim.Adam(head.parameters(), 1e-2)
X = torch.randn(600, 8); Y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
for step in range(60):
    i = torch.randint(0, 500, (32,))
    with torch.no_grad(): z = enc(X[i])
    loss = F.cross_entropy(head(z), Y[i]); opt.zero_grad(); loss.backward(); opt.step()
    if step % 10 == 9:
        with torch.no_grad():
            bank, q = enc(X[:500]), enc(X[500:])
            print(step, (Y[:500][torch.cdist(q, bank).argmin(1)] == Y[500:]).float().mean().item())
""")
    assert "script-error" not in codes(r), [(f.code, f.observation) for f in r.findings]


def test_a_generators_no_grad_samples_in_a_gradient_penalty_still_train(run_code):
    # A trained model's no-grad outputs met a double backward (WGAN-GP's penalty), which forward AD's dual
    # tensors cannot go through: the script raised under run. Such outputs are never probed.
    r = run_code("""
import torch, torch.nn as nn
torch.manual_seed(0)
G, D = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2)), nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
og, od = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.9)), torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.9))
for it in range(40):
    for _ in range(3):
        real = torch.randn(64, 2) * 0.1 + 1
        with torch.no_grad(): fake = G(torch.randn(64, 4))
        eps = torch.rand(64, 1); xi = (eps * real + (1 - eps) * fake).requires_grad_(True)
        g = torch.autograd.grad(D(xi).sum(), xi, create_graph=True)[0]
        loss_d = D(fake).mean() - D(real).mean() + 10 * ((g.norm(dim=1) - 1) ** 2).mean()
        od.zero_grad(); loss_d.backward(); od.step()
    loss_g = -D(G(torch.randn(64, 4))).mean()
    og.zero_grad(); loss_g.backward(); og.step()
""")
    assert "script-error" not in codes(r), [(f.code, f.observation) for f in r.findings]


@pytest.mark.parametrize("name", MASKS_TERMINALS)
def test_a_td_target_that_stops_at_terminals_is_quiet(run_code, name):
    r = run_code(PRELUDE + MASKS_TERMINALS[name])
    assert "terminal-bootstrap" not in codes(r, ("error", "warning", "info")), [(f.code, f.observation) for f in r.findings]
    assert not any("bootstrapped from the next state" in note for note in r.unchecked), r.unchecked


def test_a_flag_that_may_be_a_time_limit_is_not_judged(run_code):
    """No episode terminated in the batches: the flag that was set may be the time limit, where bootstrapping
    is right."""
    r = run_code(PRELUDE + "TERM = torch.zeros_like(TERM)\n" + TERMINATED_TRUNCATED.replace("STEPS", "150"))
    assert "terminal-bootstrap" not in codes(r, ("error", "warning", "info"))
    note, = [n for n in r.unchecked if "bootstrapped from the next state" in n]
    assert "`truncated`" in note and "`terminated`" in note
