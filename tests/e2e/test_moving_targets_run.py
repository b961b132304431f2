"""`traindoctor run` with its defaults on losses measured against a yardstick another model moves: a TD target
bootstrapped from a target network (its values grow from zero as they are learned; a replay batch holding a rare
reward jumps the loss once) and an actor's −Q(s, π(s)) scored by a critic that another optimizer trains. They are
read relative to their targets' scale, their spikes and climbs are not the optimizer's, and the permutation test
does not question a pairing no data made. A rate that really blows the same losses up is still found."""
import pytest

from conftest import codes

DQN = """
import copy, torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
N = 4000; S = torch.randn(N, 8); A = torch.randint(0, 3, (N,)); S2 = S.roll(1, 0) * 0.9 + 0.1 * torch.randn(N, 8)
R = torch.where(torch.rand(N) < 0.02, 1.0, 0.0) + 0.1 * (S[:, 0] > 0).float(); D = (torch.rand(N) < 0.05).float()
q = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 3)); qt = copy.deepcopy(q)
opt = torch.optim.OPTIMIZER
for step in range(300):
    i = torch.randint(0, N, (64,))
    with torch.no_grad(): y = R[i] + 0.97 * (1 - D[i]) * qt(S2[i]).max(1).values
    loss = F.LOSS(q(S[i]).gather(1, A[i, None]).squeeze(1), y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 25 == 0: qt.load_state_dict(q.state_dict())
"""

# A point pushed to the origin by a deterministic actor; soft-updated target networks (pytorch DDPG style).
DDPG = """
import copy, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0); rng = np.random.default_rng(0)
class PointMass:
    def reset(self):
        self.x, self.v, self.t = float(rng.uniform(-1, 1)), 0.0, 0; return np.array([self.x, self.v], np.float32)
    def step(self, a):
        a = float(np.clip(a, -1, 1)); self.v = 0.9 * self.v + 0.1 * a; self.x += self.v; self.t += 1
        return np.array([self.x, self.v], np.float32), -(self.x ** 2) - 0.01 * a * a, self.t >= 20
env = PointMass()
actor = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1), nn.Tanh())
critic = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 1))
actor_t, critic_t = copy.deepcopy(actor), copy.deepcopy(critic)
aopt, copt = torch.optim.Adam(actor.parameters(), 1e-3), torch.optim.Adam(critic.parameters(), 3e-3)
buf, obs = [], env.reset()
for t in range(1200):
    with torch.no_grad(): a = actor(torch.as_tensor(obs)).numpy() + 0.2 * rng.standard_normal(1)
    nxt, r, done = env.step(a[0]); buf.append((obs, a.astype(np.float32), r, nxt, float(done)))
    obs = env.reset() if done else nxt
    if len(buf) < 100: continue
    s, a_, r_, s2, d = map(lambda x: torch.as_tensor(np.array(x), dtype=torch.float32),
                           zip(*[buf[i] for i in rng.integers(0, len(buf), 64)]))
    with torch.no_grad(): y = r_ + 0.99 * (1 - d) * critic_t(torch.cat([s2, actor_t(s2)], -1)).squeeze(-1)
    closs = F.mse_loss(critic(torch.cat([s, a_], -1)).squeeze(-1), y); copt.zero_grad(); closs.backward(); copt.step()
    aloss = -critic(torch.cat([s, actor(s)], -1)).mean(); aopt.zero_grad(); aloss.backward(); aopt.step()
    with torch.no_grad():
        for net, tgt in ((actor, actor_t), (critic, critic_t)):
            for p, pt in zip(net.parameters(), tgt.parameters()): pt.mul_(0.995).add_(0.005 * p)
"""

HEALTHY = {
    "dqn-mse": DQN.replace("OPTIMIZER", "Adam(q.parameters(), 1e-3)").replace("LOSS", "mse_loss"),
    "dqn-huber": DQN.replace("OPTIMIZER", "Adam(q.parameters(), 1e-3)").replace("LOSS", "smooth_l1_loss"),
    "dqn-sgd": DQN.replace("OPTIMIZER", "SGD(q.parameters(), 0.5)").replace("LOSS", "mse_loss"),
    "ddpg-soft-targets": DDPG,
}


@pytest.mark.parametrize("name", HEALTHY)
def test_losses_against_a_moving_yardstick_are_not_judged_as_fixed_ones(run_code, name):
    r = run_code(HEALTHY[name])
    assert [f.code for f in r.findings if f.severity in ("error", "warning")] == [], [(f.code, f.observation) for f in r.findings]


def test_a_td_target_is_read_relative_to_its_scale(run_code):
    r = run_code(HEALTHY["dqn-mse"])
    scales = [s["target_scale"] for s in r.sections["run"]["steps_record"]]
    assert all(s is not None and s > 0 for s in scales)


def test_the_permutation_test_says_why_it_did_not_run_on_bootstrapped_targets(run_code):
    r = run_code(HEALTHY["dqn-mse"], experiments_=True)
    held, = [o for o in r.sections["run"]["experiments"]["observations"] if o["name"] == "held-out-batch"]
    assert held["outcome"].startswith("not run") and held["keeps"] == held["kills"] == []


def test_a_rate_that_blows_the_td_loss_up_is_still_found(run_code):
    r = run_code(DQN.replace("OPTIMIZER", "SGD(q.parameters(), 3.0)").replace("LOSS", "mse_loss"))
    assert codes(r)[0] == "lr-too-high"


def test_a_critic_whose_own_loss_blows_up_is_still_found(run_code):
    r = run_code(DDPG.replace("torch.optim.Adam(critic.parameters(), 3e-3)", "torch.optim.SGD(critic.parameters(), 2.0)"))
    assert codes(r)[:1] == ["lr-too-high"], [(f.code, f.observation) for f in r.findings]
