# source: https://github.com/isayev/ReLeaSE/issues/39
# expect: graph-break
# category: rl
# bug: the policy-gradient loss is accumulated from log_prob.item() (a Python float) and re-wrapped with torch.tensor(requires_grad=True), so no gradient reaches the policy
"""REINFORCE on a 10-armed Gaussian bandit with a small policy network."""
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(4)
rng = np.random.default_rng(4)

ARMS = 10
arm_means = rng.normal(0.0, 1.0, ARMS)
best = arm_means.max()

policy = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, ARMS))
optimizer = torch.optim.Adam(policy.parameters(), lr=0.02)
state = torch.ones(1, 1)
baseline = 0.0

for episode in range(300):
    rl_loss = 0.0
    rewards = []
    for _ in range(16):
        probs = torch.softmax(policy(state), dim=-1).squeeze(0)
        arm = torch.multinomial(probs, 1).item()
        reward = rng.normal(arm_means[arm], 1.0)
        rewards.append(reward)
        log_prob = torch.log(probs[arm])
        # BUG: .item() leaves autograd; the re-wrapped tensor below is a fresh leaf
        rl_loss -= log_prob.item() * (reward - baseline)
    rl_loss = torch.tensor(rl_loss / 16, requires_grad=True)
    optimizer.zero_grad()
    rl_loss.backward()
    optimizer.step()
    baseline = 0.9 * baseline + 0.1 * float(np.mean(rewards))
    if episode % 30 == 0 or episode == 299:
        print(f"episode {episode:3d}  loss {rl_loss.item():+.4f}  mean reward {np.mean(rewards):+.3f}  (best arm {best:+.3f})")
