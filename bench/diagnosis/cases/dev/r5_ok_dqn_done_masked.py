# source: https://github.com/navneet-nmk/pytorch-rl/issues/2
# expect: healthy
# category: rl
# bug: none - the look-alike of the report done right: the TD target masks the bootstrap term with (1 - done) on terminal transitions, so values stay within the possible return
"""DQN with replay, a target network and done masking on an auto-resetting corridor."""
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
        terminal = self.pos == GOAL
        obs = self.obs()
        if terminal or self.t >= MAX_T:    # time-limit truncation is not terminal
            self.pos, self.t = START, 0
        return obs, reward, terminal


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
    s = env.obs()
    eps = max(0.05, eps * 0.996)
    if len(buf) >= 64:
        batch = random.sample(buf, 32)
        bs, ba, br, bs2, bd = map(np.array, zip(*batch))
        bs, bs2 = torch.from_numpy(bs), torch.from_numpy(bs2)
        ba, br = torch.from_numpy(ba).long(), torch.from_numpy(br).float()
        bd = torch.from_numpy(bd.astype(np.float32))
        q_sa = q(bs).gather(1, ba.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            target = br + GAMMA * (1.0 - bd) * q_tgt(bs2).max(1).values
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
