# source: https://github.com/openai/random-network-distillation/issues/16
# expect: healthy
# category: rl
# bug: healthy; rewards-to-go built in the Dataset with a flip-cumsum-flip (future rewards, correctly discounted from each step)
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(12)

STRIP = 9
HORIZON = 10
GAMMA = 0.9


def sensor_reading(pos):
    x = torch.exp(-0.5 * (torch.arange(STRIP).float() - pos) ** 2)
    return (x + 0.05 * torch.randn(STRIP)).unsqueeze(0)  # (1, STRIP)


class StripPolicy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 8, kernel_size=3, padding=1)
        self.out = nn.Linear(8 * STRIP, 3)

    def forward(self, x):  # x: (B, 1, STRIP)
        return self.out(torch.relu(self.conv(x)).flatten(1))


def play_episode(policy):
    states, actions, rewards = [], [], []
    owed = [0.0, 0.0]
    for t in range(HORIZON):
        pos = int(torch.randint(STRIP, (1,)))
        s = sensor_reading(pos)
        with torch.no_grad():
            a = torch.distributions.Categorical(logits=policy(s.unsqueeze(0))).sample().item()
        owed.append(1.0 if a == pos // 3 else 0.0)
        r = owed.pop(0)
        if t == HORIZON - 1:
            r += sum(owed)
        states.append(s)
        actions.append(a)
        rewards.append(r)
    return states, actions, rewards


class EpisodeDataset(Dataset):
    def __init__(self, episodes):
        self.states, self.actions, self.returns = [], [], []
        for states, actions, rewards in episodes:
            r = torch.tensor(rewards)
            disc = GAMMA ** torch.arange(len(rewards)).float()
            ret = torch.flip(torch.cumsum(torch.flip(r * disc, [0]), 0), [0]) / disc
            self.states += states
            self.actions += actions
            self.returns.append(ret)
        self.returns = torch.cat(self.returns)
        self.returns = (self.returns - self.returns.mean()) / (self.returns.std() + 1e-6)

    def __len__(self):
        return len(self.actions)

    def __getitem__(self, i):
        return self.states[i], self.actions[i], self.returns[i]


policy = StripPolicy()
optimizer = torch.optim.SGD(policy.parameters(), lr=0.05)

for it in range(60):
    episodes = [play_episode(policy) for _ in range(8)]
    avg_reward = sum(sum(e[2]) for e in episodes) / len(episodes)
    loader = DataLoader(EpisodeDataset(episodes), batch_size=20, shuffle=True)
    for s, a, g in loader:
        logp = torch.distributions.Categorical(logits=policy(s)).log_prob(a)
        loss = -(logp * g).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if it % 6 == 0 or it == 59:
        print(f"iteration {it:2d}  loss {loss.item():.4f}  avg episode reward {avg_reward:.2f}")
