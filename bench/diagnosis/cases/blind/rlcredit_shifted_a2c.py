# source: https://github.com/openai/spinningup/issues/50
# expect: log-prob-of-untaken-action
# category: rl
# bug: the rollout buffer stores the observation returned by env.step (the next state) with each action, so the actor loss pairs a_t with s_{t+1}
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical

torch.manual_seed(3)

N_ENVS = 16
N_STATES = 7
N_ACTIONS = 4
ROLLOUT = 8
GAMMA = 0.95


class LockChain:
    """A batch of chains: each state has one action that moves forward; the others reset to 0.
    Reaching the last state pays 1 and restarts the chain."""

    def __init__(self, n):
        self.n = n
        self.combo = torch.randint(0, N_ACTIONS, (N_STATES,))
        self.pos = torch.zeros(n, dtype=torch.long)

    def observe(self):
        return F.one_hot(self.pos, N_STATES).float()

    def step(self, actions):
        correct = actions == self.combo[self.pos]
        self.pos = torch.where(correct, self.pos + 1, torch.zeros_like(self.pos))
        reward = (self.pos == N_STATES - 1).float()
        self.pos = torch.where(self.pos == N_STATES - 1, torch.zeros_like(self.pos), self.pos)
        return self.observe(), reward


class ActorCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(N_STATES, 64), nn.ReLU())
        self.pi = nn.Linear(64, N_ACTIONS)
        self.v = nn.Linear(64, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.pi(h), self.v(h).squeeze(-1)


env = LockChain(N_ENVS)
model = ActorCritic()
optimizer = torch.optim.RMSprop(model.parameters(), lr=3e-3)
obs = env.observe()
reward_log = []

for update in range(300):
    buf_obs, buf_act, buf_rew = [], [], []
    for t in range(ROLLOUT):
        with torch.no_grad():
            logits, _ = model(obs)
        action = Categorical(logits=logits).sample()
        obs, reward = env.step(action)
        buf_obs.append(obs)
        buf_act.append(action)
        buf_rew.append(reward)

    with torch.no_grad():
        _, bootstrap = model(obs)
    returns = []
    R = bootstrap
    for r in reversed(buf_rew):
        R = r + GAMMA * R
        returns.insert(0, R)

    states = torch.cat(buf_obs)
    actions = torch.cat(buf_act)
    targets = torch.cat(returns)
    logits, values = model(states)
    dist = Categorical(logits=logits)
    advantage = targets - values
    actor_loss = -(dist.log_prob(actions) * advantage.detach()).mean()
    critic_loss = advantage.pow(2).mean()
    entropy = dist.entropy().mean()
    loss = actor_loss + 0.5 * critic_loss - 0.01 * entropy

    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()

    reward_log.append(torch.stack(buf_rew).sum().item() / N_ENVS)
    if update % 30 == 0 or update == 299:
        recent = sum(reward_log[-30:]) / len(reward_log[-30:])
        print(f"update {update:3d}  loss {loss.item():.4f}  goals/env/rollout {recent:.3f}  entropy {entropy.item():.3f}")
