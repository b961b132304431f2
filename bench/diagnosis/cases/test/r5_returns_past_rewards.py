# source: https://github.com/mohmdelsayed/streaming-drl/issues/3
# expect: returns-miscomputed
# category: rl
# bug: the return at step t is computed as the discounted sum of the PAST rewards (a forward running sum) instead of the future ones, so the delayed reward each action earns is credited to the next action and the policy gradient carries no signal about the action taken
"""REINFORCE with a baseline on a cue-matching task whose reward arrives one step later."""
import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Categorical

torch.manual_seed(0)
np.random.seed(0)

K, T, GAMMA = 4, 12, 0.9


def run_episode(policy):
    cues = torch.randint(0, K, (T,))
    logps, rewards, pending = [], [], 0.0
    for t in range(T):
        obs = torch.nn.functional.one_hot(cues[t], K).float()
        dist = Categorical(logits=policy(obs))
        a = dist.sample()
        logps.append(dist.log_prob(a))
        rewards.append(pending)                      # the outcome of the previous decision arrives now
        pending = 1.0 if int(a) == int(cues[t]) else 0.0
    rewards.append(pending)
    return torch.stack(logps), rewards


def returns_of(rewards):
    out, running = [], 0.0
    for r in rewards[:-1]:                           # BUG: forward running sum of the rewards seen so far
        running = r + GAMMA * running
        out.append(running)
    return torch.tensor(out)


policy = nn.Sequential(nn.Linear(K, 32), nn.Tanh(), nn.Linear(32, K))
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)

for it in range(200):
    losses, hits = [], 0.0
    for _ in range(8):
        logps, rewards = run_episode(policy)
        G = returns_of(rewards)
        adv = (G - G.mean()) / (G.std() + 1e-8)
        losses.append(-(logps * adv).sum())
        hits += sum(rewards) / T
    loss = torch.stack(losses).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 25 == 0 or it == 199:
        print(f"iter {it:3d}  loss {loss.item():.3f}  match rate {hits / 8:.3f}  (chance {1 / K:.2f})")
