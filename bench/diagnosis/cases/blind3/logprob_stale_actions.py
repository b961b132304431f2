# source: https://github.com/thu-ml/tianshou/issues/745
# expect: log-prob-of-untaken-action
# category: rl
# bug: the actor-critic update pairs the fresh rollout's states with the action tensor kept from the previous rollout (variable reused across iterations), so log-probs are of actions never taken in those states
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(13)

N_ENV, T, OBS, N_ACT = 16, 12, 5, 3
GAMMA = 0.9
M = torch.randn(OBS, N_ACT)


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRUCell(OBS, 32)
        self.pi = nn.Linear(32, N_ACT)
        self.v = nn.Linear(32, 1)

    def forward(self, obs_seq):
        # obs_seq: (T, N, OBS) time-major
        h = torch.zeros(obs_seq.shape[1], 32)
        logits, values = [], []
        for x in obs_seq:
            h = self.gru(x, h)
            logits.append(self.pi(h))
            values.append(self.v(h).squeeze(-1))
        return torch.stack(logits), torch.stack(values)


agent = Agent()
opt = torch.optim.RMSprop(agent.parameters(), lr=4e-3)
actions = None

for it in range(150):
    obs_seq = torch.randn(T, N_ENV, OBS)
    logits, values = agent(obs_seq)
    with torch.no_grad():
        sampled = torch.distributions.Categorical(logits=logits).sample()
        rewards = (sampled == (obs_seq @ M).argmax(-1)).float()
        ret = torch.zeros_like(rewards)
        running = torch.zeros(N_ENV)
        for t in reversed(range(T)):
            running = rewards[t] + GAMMA * running
            ret[t] = running
    if actions is None:
        actions = sampled
    logp = torch.distributions.Categorical(logits=logits).log_prob(actions)
    adv = ret - values.detach()
    loss = -(logp * adv).mean() + 0.5 * F.mse_loss(values, ret)
    opt.zero_grad()
    loss.backward()
    opt.step()
    actions = sampled
    if it % 15 == 0 or it == 149:
        print(f"it {it:3d} loss {loss.item():.4f} reward/step {rewards.mean().item():.3f}")
