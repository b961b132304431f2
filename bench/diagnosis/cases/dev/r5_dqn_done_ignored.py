# source: https://github.com/navneet-nmk/pytorch-rl/issues/2
# expect: terminal-bootstrap
# category: rl
# bug: the TD target ignores the done flag: r + gamma * max Q(s') is used even on the terminal transition, where s' is the auto-reset observation of the next episode, so values chain across episodes and inflate far above the largest possible return
"""DQN with replay and a target network on an auto-resetting corridor."""
import random
from collections import deque

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

random.seed(0)
np.random.seed(0)
torch.manual_seed(0)

N, START, GOAL, GAMMA, MAX_T = 8, 3, 7, 0.99, 30


class Corridor:
    """Reaching the goal gives +1 and ends the episode; the env resets itself."""

    def __init__(self):
        self.pos, self.t = START, 0

    def obs(self):
        v = np.zeros(N, dtype=np.float32)
        v[self.pos] = 1.0
        return v

    def step(self, a):
        self.pos = min(max(self.pos + (1 if a == 1 else -1), 0), N - 1)
        self.t += 1
        reward = 1.0 if self.pos == GOAL else 0.0
        done = self.pos == GOAL or self.t >= MAX_T
        if done:                       # vector-env style: the returned obs is already the next episode's
            self.pos, self.t = START, 0
        return self.obs(), reward, done


env = Corridor()
q = nn.Sequential(nn.Linear(N, 64), nn.ReLU(), nn.Linear(64, 2))
q_tgt = nn.Sequential(nn.Linear(N, 64), nn.ReLU(), nn.Linear(64, 2))
q_tgt.load_state_dict(q.state_dict())
opt = torch.optim.Adam(q.parameters(), lr=1e-3)
buf = deque(maxlen=5000)

s = env.obs()
eps = 1.0
for step in range(1, 1501):
    if random.random() < eps:
        a = random.randrange(2)
    else:
        with torch.no_grad():
            a = int(q(torch.from_numpy(s)).argmax())
    s2, r, d = env.step(a)
    buf.append((s, a, r, s2, d))
    s = s2
    eps = max(0.05, eps * 0.996)
    if len(buf) >= 64:
        batch = random.sample(buf, 32)
        bs, ba, br, bs2, bd = map(np.array, zip(*batch))
        bs, bs2 = torch.from_numpy(bs), torch.from_numpy(bs2)
        ba, br = torch.from_numpy(ba).long(), torch.from_numpy(br).float()
        q_sa = q(bs).gather(1, ba.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            target = br + GAMMA * q_tgt(bs2).max(1).values     # BUG: no (1 - done) mask
        loss = F.mse_loss(q_sa, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            q_tgt.load_state_dict(q.state_dict())
        if step % 150 == 0:
            with torch.no_grad():
                start = torch.zeros(N)
                start[START] = 1.0
                v = q(start).max().item()
            print(f"step {step:4d}  td loss {loss.item():.4f}  max Q(start) {v:.3f}  (true optimal value {GAMMA ** 3:.3f}, no return can exceed 1)")
