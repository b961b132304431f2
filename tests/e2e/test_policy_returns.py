"""`traindoctor run`, default configuration: the return weighting log π(a_t|s_t) is built from the rewards at t
and after. Broken: REINFORCE whose discounted sum runs forward over the episode's rewards (Python floats).
Healthy look-alike: the same loop walking the reversed rewards and reversing the returns back."""
import pytest

from conftest import codes

CODE = "returns-misordered"

SOURCE = """
import random
import torch, torch.nn as nn
torch.manual_seed(0); random.seed(0)
policy = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
for episode in range(40):
    log_probs, rewards, owed = [], [], [0.0, 0.0]
    for t in range(10):
        cue = random.randrange(3)
        obs = torch.tensor([float(cue == 0), float(cue == 1), float(cue == 2), t / 10])
        dist = torch.distributions.Categorical(logits=policy(obs))
        action = dist.sample()
        log_probs.append(dist.log_prob(action))
        owed.append(1.0 if action.item() == cue else 0.0)
        rewards.append(owed.pop(0) + (sum(owed) if t == 9 else 0.0))  # paid two steps later
    returns, G = [], 0.0
    for r in ORDER:
        G = r + 0.9 * G
        returns.append(G)
    returns = torch.tensor(BACK)
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    loss = -(torch.stack(log_probs) * returns).sum()
    opt.zero_grad(); loss.backward(); opt.step()
"""


@pytest.mark.parametrize("order, back, broken", [("rewards", "returns", True),
                                                 ("rewards[::-1]", "returns[::-1]", False)])
def test_returns_accumulated_forward_are_found(run_code, order, back, broken):
    report = run_code(SOURCE.replace("ORDER", order).replace("BACK", back))
    assert (CODE in codes(report)) == broken, codes(report)
    if broken:
        assert codes(report, ("error",))[0] == CODE, codes(report)
        found = next(f for f in report.findings if f.code == CODE)
        assert found.evidence["construction"] == "past" and found.location.get("line"), found.evidence
