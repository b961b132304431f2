# source: https://github.com/JoshuaWu1997/PyTorch-DDPG-Stock-Trading/issues/2
# expect: game-shared-optimizer
# category: rl
# bug: DDPG-style actor and critic share one Adam; the actor loss -Q(s, pi(s)) also steps the critic, which learns to inflate Q
import torch
import torch.nn as nn

torch.manual_seed(11)
STATE, ACTION = 4, 2
W_true = torch.randn(STATE, ACTION)


def reward(s, a):
    best = torch.tanh(s @ W_true)
    return -((a - best) ** 2).sum(-1, keepdim=True)


class Actor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(STATE, 64), nn.ReLU(), nn.Linear(64, ACTION), nn.Tanh())

    def forward(self, s):
        return self.net(s)


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(STATE + ACTION, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, s, a):
        return self.net(torch.cat([s, a], -1))


actor, critic = Actor(), Critic()
params = list(actor.parameters()) + list(critic.parameters())
optim = torch.optim.Adam(params, lr=1e-3)

buf_s, buf_a, buf_r = [], [], []
for step in range(400):
    s = torch.randn(32, STATE)
    with torch.no_grad():
        a = (actor(s) + 0.3 * torch.randn(32, ACTION)).clamp(-1, 1)
        r = reward(s, a)
    buf_s.append(s); buf_a.append(a); buf_r.append(r)
    S, A, R = torch.cat(buf_s[-50:]), torch.cat(buf_a[-50:]), torch.cat(buf_r[-50:])
    idx = torch.randint(0, S.size(0), (128,))
    bs, ba, br = S[idx], A[idx], R[idx]

    critic_loss = ((critic(bs, ba) - br) ** 2).mean()
    optim.zero_grad()
    critic_loss.backward()
    optim.step()

    actor_loss = -critic(bs, actor(bs)).mean()
    optim.zero_grad()
    actor_loss.backward()
    optim.step()

    if step % 50 == 0 or step == 399:
        with torch.no_grad():
            ts = torch.randn(1000, STATE)
            ta = actor(ts)
            true_r = reward(ts, ta).mean().item()
            q_est = critic(ts, ta).mean().item()
        print(f"step {step:3d}  critic_loss {critic_loss.item():.4f}  actor_loss {actor_loss.item():.4f}  "
              f"greedy reward {true_r:.4f}  Q estimate {q_est:.4f}")
