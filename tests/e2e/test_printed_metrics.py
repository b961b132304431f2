"""`traindoctor run`, default configuration, reads the measures of success a script prints (accuracy,
reward, return) against the loss it descends: a measure that gets worse as the loss is optimized, or a
bounded score stuck at its floor while the loss learns, is named — whatever the task or the print's
format; printed measures that improve, or have converged, are not."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

# A contextual bandit: the best of 4 arms is the argmax of a fixed linear map of the context.
BANDIT = PRELUDE + """
W = torch.randn(4, 6)
policy = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 4))
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
for it in range(80):
    x = torch.randn(256, 6)
    dist = torch.distributions.Categorical(logits=policy(x))
    a = dist.sample()
    reward = (a == (x @ W.T).argmax(1)).float()
    loss = SIGN * (dist.log_prob(a) * (reward - reward.mean())).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    if it % 4 == 0:
        print(f"iter {it:3d} | policy loss {loss.item():+.4f} | avg reward {reward.mean().item():.3f}")
"""

# A deterministic actor against a learned critic on a one-step task whose best action is 0.7 * context.
ACTOR_CRITIC = PRELUDE + """
actor = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1), nn.Tanh())
critic = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 1))
opt_a = torch.optim.Adam(actor.parameters(), lr=3e-3); opt_c = torch.optim.Adam(critic.parameters(), lr=3e-3)
def reward(s, a):
    return 1 - (a - 0.7 * s[:, :1]) ** 2
for it in range(120):
    s = torch.rand(128, 2) * 2 - 1
    a = (actor(s) + 0.3 * torch.randn(128, 1)).clamp(-1, 1).detach()
    critic_loss = F.mse_loss(critic(torch.cat([s, a], 1)), reward(s, a))
    opt_c.zero_grad(); critic_loss.backward(); opt_c.step()
    actor_loss = SIGN * critic(torch.cat([s, actor(s)], 1)).mean()
    opt_a.zero_grad(); actor_loss.backward(); opt_a.step()
    if it % 6 == 0:
        with torch.no_grad():
            print(f"it={it} critic={critic_loss.item():.4f} episode_return={reward(s, actor(s)).mean().item():.4f}")
"""

# Four classes: which quadrant of the plane a point lies in.
CLASSIFIER = PRELUDE + """
def data(n):
    x = torch.randn(n, 2)
    return x, (x[:, 0] > 0).long() * 2 + (x[:, 1] > 0).long()
xv, yv = data(512)
model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 4))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(120):
    x, y = data(128)
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 10 == 9:
        with torch.no_grad():
            logits = model(xv)
        print(METRIC)
"""
ARGMAX_AXIS = 'f"step {step} loss {loss.item():.4f} val_acc {(logits.argmax(0)[:4] == yv.argmax(0)).float().mean():.3f}"'
OFF_BY_ONE_PERCENT = ('f"Epoch {step // 10}: train loss {loss.item():.3f}, '
                      'Accuracy: {100 * (logits.argmax(1) == yv + 1).float().mean():.1f}%"')
RIGHT = 'f"step {step} loss {loss.item():.4f} val acc {(logits.argmax(1) == yv).float().mean():.3f}"'
PERCENT_RIGHT = ('f"Test set: Average loss: {loss.item():.4f}, Accuracy: {(logits.argmax(1) == yv).sum()}/512 '
                 '({100 * (logits.argmax(1) == yv).float().mean():.0f}%)"')
# F1 of class 0 against the labels of another task (the quadrant mirrored): it falls as the model learns.
F1_WRONG_LABELS = ('f"step {step} loss {loss.item():.4f} f1 '
                   '{2 * ((logits.argmax(1) == 0) & (yv == 3)).sum() / ((logits.argmax(1) == 0).sum() + (yv == 3).sum()):.3f}"')

BROKEN = {
    "reinforce-sign": (BANDIT.replace("SIGN", "1"), "loss-sign-flipped"),
    "actor-without-minus": (ACTOR_CRITIC.replace("SIGN", "1"), "loss-sign-flipped"),
    "accuracy-argmax-over-the-batch": (CLASSIFIER.replace("METRIC", ARGMAX_AXIS), "loss-metric-mismatch"),
    "accuracy-percent-off-by-one": (CLASSIFIER.replace("METRIC", OFF_BY_ONE_PERCENT), "loss-metric-mismatch"),
}

HEALTHY = {
    "reinforce": BANDIT.replace("SIGN", "-1"),
    "actor-critic": ACTOR_CRITIC.replace("SIGN", "-1"),
    "accuracy-rises": CLASSIFIER.replace("METRIC", RIGHT),
    "accuracy-percent-and-counts": CLASSIFIER.replace("METRIC", PERCENT_RIGHT),
    # A small test set answered in full: 40/40 is all of it, not 40%.
    "all-of-a-small-test-set": CLASSIFIER.replace("METRIC", 'f"Accuracy: {(logits[:40].argmax(1) == yv[:40]).sum()}/40 '
                                                            '({100 * (logits[:40].argmax(1) == yv[:40]).float().mean():.0f}%)"'),
    # Converged from the first print: high and flat while the loss still falls by half.
    "accuracy-converged": PRELUDE + """
x = torch.randn(256, 2); y = (x[:, 0] > 0).long()
model = nn.Linear(2, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.5)
for step in range(100):
    loss = F.cross_entropy(model(x) * 10, y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 10 == 0:
        print(f"step {step} loss {loss.item():.4f} acc {(model(x).argmax(1) == y).float().mean():.3f}")
""",
    # Not measures of success: a decaying learning rate, an error rate and a score whose direction is unknown.
    "other-numbers-fall": PRELUDE + """
x = torch.randn(256, 2); y = x.sum(1, keepdim=True)
model = nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
sched = torch.optim.lr_scheduler.StepLR(opt, 20, 0.5)
for step in range(100):
    loss = F.mse_loss(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    if step % 10 == 0:
        print(f"step {step} lr {sched.get_last_lr()[0]:.4f} error rate {loss.item():.3f} fid score {100 / (step + 1):.2f}")
""",
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_measure_of_success_going_the_wrong_way_is_named_first(run_code, name):
    source, code = BROKEN[name]
    report = run_code(source)
    assert codes(report)[:1] == [code], [(f.code, f.observation) for f in report.findings]


@pytest.mark.parametrize("name", HEALTHY)
def test_printed_measures_that_improve_or_converged_are_not_findings(run_code, name):
    report = run_code(HEALTHY[name])
    assert not {"loss-sign-flipped", "loss-metric-mismatch"} & {f.code for f in report.findings}, \
        [(f.code, f.observation) for f in report.findings]


def test_a_score_never_right_while_the_loss_learns_is_a_mismatch(run_code):
    report = run_code(CLASSIFIER.replace("METRIC", F1_WRONG_LABELS))
    assert "loss-metric-mismatch" in codes(report), [(f.code, f.observation) for f in report.findings]


def test_a_score_at_chance_while_the_loss_only_fell_to_chance_is_no_mismatch(run_code):
    """Inputs 255x too large: the first loss is huge, falls to ln 4 and stays there; the printed accuracy
    sits at chance too. Both say nothing was learned — they agree."""
    report = run_code(PRELUDE + """
x = torch.rand(1024, 16) * 255; y = (x[:, 0] > x[:, 1]).long() * 2 + (x[:, 2] > x[:, 3]).long()
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for step in range(150):
    i = (step * 64) % 1024
    loss = F.cross_entropy(model(x[i:i + 64]), y[i:i + 64])
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 20 == 19:
        print(f"step {step} loss {loss.item():.4f} acc {(model(x).argmax(1) == y).float().mean():.3f}")
""")
    assert "loss-metric-mismatch" not in codes(report), [(f.code, f.observation) for f in report.findings]
