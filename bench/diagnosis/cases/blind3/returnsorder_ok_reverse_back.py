# source: https://github.com/mrahtz/tensorflow-rl-pong/issues/1
# expect: healthy
# category: rl
# bug: healthy; Karpathy-style discounting: walk the reversed reward list, then reverse the returns back before pairing them with log-probs
import random
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)
random.seed(5)

N_CTX = 3
EP_LEN = 14
DELAY = 2


class DelayedPayoutEnv:
    """Each step shows a cue; the right answer is paid out two steps later."""

    def reset(self):
        self.t = 0
        self.pending = []
        self.cue = random.randrange(N_CTX)
        return self._obs()

    def _obs(self):
        o = torch.zeros(N_CTX + 1)
        o[self.cue] = 1.0
        o[-1] = self.t / EP_LEN
        return o

    def step(self, action):
        self.pending.append(1.0 if action == (self.cue + 1) % N_CTX else 0.0)
        reward = self.pending.pop(0) if len(self.pending) > DELAY else 0.0
        self.t += 1
        done = self.t >= EP_LEN
        if done:
            reward += sum(self.pending)
        self.cue = random.randrange(N_CTX)
        return self._obs(), reward, done


policy = nn.Sequential(nn.Linear(N_CTX + 1, 32), nn.Tanh(), nn.Linear(32, N_CTX))
optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
env = DelayedPayoutEnv()
gamma = 0.95

for episode in range(400):
    obs = env.reset()
    log_probs = []
    rewards = []
    done = False
    while not done:
        probs = F.softmax(policy(obs), dim=-1)
        dist = torch.distributions.Categorical(probs)
        action = dist.sample()
        log_probs.append(dist.log_prob(action))
        obs, r, done = env.step(action.item())
        rewards.append(r)

    returns = []
    G = 0.0
    for r in rewards[::-1]:
        G = r + gamma * G
        returns.append(G)
    returns = torch.tensor(returns[::-1])
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)

    loss = -(torch.stack(log_probs) * returns).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

    if episode % 40 == 0 or episode == 399:
        print(f"episode {episode:4d}  loss {loss.item():8.4f}  reward {sum(rewards):5.1f}")
