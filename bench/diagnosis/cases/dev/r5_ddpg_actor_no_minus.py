# source: https://github.com/KanishJebaMathewM/Truxify/pull/11885
# expect: loss-sign-flipped
# category: rl
# bug: the deterministic actor's loss is Q(s, pi(s)).mean() without the minus sign, so the actor is trained to minimise the critic's value: the critic learns fine while the policy walks to the worst actions and the reward falls
"""DDPG-style actor-critic on a continuous contextual bandit (one-step episodes)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

S = 4
w_opt = torch.tensor([0.8, -0.5, 0.3, 0.0])


def reward(s, a):
    best = torch.tanh(s @ w_opt).unsqueeze(1)          # optimal action in (-1, 1)
    return 1.0 - (a - best).pow(2).sum(1)


actor = nn.Sequential(nn.Linear(S, 64), nn.ReLU(), nn.Linear(64, 1), nn.Tanh())
critic = nn.Sequential(nn.Linear(S + 1, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
opt_a = torch.optim.Adam(actor.parameters(), lr=1e-3)
opt_c = torch.optim.Adam(critic.parameters(), lr=2e-3)

for it in range(400):
    s = torch.randn(64, S)
    with torch.no_grad():
        a = (actor(s) + 0.3 * torch.randn(64, 1)).clamp(-1, 1)
        r = reward(s, a)
    q = critic(torch.cat([s, a], 1)).squeeze(1)
    critic_loss = F.mse_loss(q, r)
    opt_c.zero_grad()
    critic_loss.backward()
    opt_c.step()

    actor_loss = critic(torch.cat([s, actor(s)], 1)).mean()     # BUG: should be -critic(...).mean()
    opt_a.zero_grad()
    actor_loss.backward()
    opt_a.step()

    if it % 50 == 0 or it == 399:
        with torch.no_grad():
            s_eval = torch.randn(512, S)
            greedy_r = reward(s_eval, actor(s_eval)).mean().item()
        print(f"iter {it:4d}  critic loss {critic_loss.item():.4f}  actor loss {actor_loss.item():.4f}  greedy reward {greedy_r:.3f} (best 1.0)")
