# source: https://github.com/shakedzy/tic_tac_toe/issues/1
# expect: target-network-stale
# category: rl
# bug: the target network is synced on a counter that is never incremented, so TD targets come from the random initial network for the whole run
"""DQN on a 1-D corridor with a replay buffer and a target network."""
import copy
import random
from collections import deque

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

random.seed(2)
np.random.seed(2)
torch.manual_seed(2)

N = 8           # cells; start at 0, goal at N-1
MAX_STEPS = 25
GAMMA = 0.9


def one_hot(pos):
    v = np.zeros(N, dtype=np.float32)
    v[pos] = 1.0
    return v


class DQNAgent:
    def __init__(self):
        self.q = nn.Sequential(nn.Linear(N, 64), nn.ReLU(), nn.Linear(64, 2))
        self.q_target = copy.deepcopy(self.q)
        self.opt = torch.optim.Adam(self.q.parameters(), lr=1e-3)
        self.memory = deque(maxlen=5000)
        self.learn_counter = 0      # meant to count learning steps
        self.sync_every = 100
        self.eps = 1.0

    def act(self, s):
        if random.random() < self.eps:
            return random.randrange(2)
        with torch.no_grad():
            return int(self.q(torch.from_numpy(one_hot(s))).argmax())

    def learn(self):
        if len(self.memory) < 32:
            return None
        batch = random.sample(self.memory, 32)
        s, a, r, s2, d = zip(*batch)
        s = torch.from_numpy(np.stack([one_hot(x) for x in s]))
        s2 = torch.from_numpy(np.stack([one_hot(x) for x in s2]))
        a = torch.tensor(a).unsqueeze(1)
        r = torch.tensor(r, dtype=torch.float32)
        d = torch.tensor(d, dtype=torch.float32)
        q_sa = self.q(s).gather(1, a).squeeze(1)
        with torch.no_grad():
            target = r + GAMMA * (1 - d) * self.q_target(s2).max(1).values
        loss = F.smooth_l1_loss(q_sa, target)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        # BUG: learn_counter is never incremented, so this never fires after the first check
        if self.learn_counter > 0 and self.learn_counter % self.sync_every == 0:
            self.q_target.load_state_dict(self.q.state_dict())
        return loss.item()


agent = DQNAgent()
losses = []
for episode in range(50):
    pos, steps, done = 0, 0, False
    while not done:
        a = agent.act(pos)
        nxt = min(max(pos + (1 if a == 1 else -1), 0), N - 1)
        steps += 1
        reached = nxt == N - 1
        done = reached or steps >= MAX_STEPS
        agent.memory.append((pos, a, 1.0 if reached else 0.0, nxt, float(reached)))
        pos = nxt
        l = agent.learn() if steps % 2 == 0 else None
        if l is not None:
            losses.append(l)
    agent.eps = max(0.05, agent.eps * 0.97)
    if episode % 5 == 0 or episode == 49:
        # greedy evaluation
        p, t = 0, 0
        while p != N - 1 and t < MAX_STEPS:
            with torch.no_grad():
                g = int(agent.q(torch.from_numpy(one_hot(p))).argmax())
            p = min(max(p + (1 if g == 1 else -1), 0), N - 1)
            t += 1
        recent = f"{np.mean(losses[-100:]):.5f}" if losses else "n/a (buffer filling)"
        print(f"episode {episode:3d}  td loss {recent}  eps {agent.eps:.2f}  greedy reaches goal: {p == N - 1} in {t} steps")
