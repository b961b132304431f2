# source: https://github.com/ericyangyu/PPO-for-Beginners/pull/15
# expect: healthy
# category: rl
# bug: none — reward-to-go computed with flip/cumsum/flip over a [batch, time] reward tensor (correct order), delayed-reward cue-recall task
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical

torch.manual_seed(5)

N_CUES = 3
HORIZON = 6
BATCH = 32


class CueMemoryPolicy(nn.Module):
    """GRU policy: step 0 shows a cue, later steps show nothing; the last action must name the cue."""

    def __init__(self, hidden=32):
        super().__init__()
        self.gru = nn.GRU(N_CUES + 1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, N_CUES)

    def step(self, x, h):
        out, h = self.gru(x.unsqueeze(1), h)
        return self.head(out.squeeze(1)), h


def run_batch(policy):
    cues = torch.randint(0, N_CUES, (BATCH,))
    h = None
    logps, rewards = [], []
    for t in range(HORIZON):
        x = torch.zeros(BATCH, N_CUES + 1)
        if t == 0:
            x[:, :N_CUES] = F.one_hot(cues, N_CUES).float()
        else:
            x[:, N_CUES] = 1.0
        logits, h = policy.step(x, h)
        dist = Categorical(logits=logits)
        a = dist.sample()
        logps.append(dist.log_prob(a))
        if t == HORIZON - 1:
            rewards.append((a == cues).float())
        else:
            rewards.append(torch.zeros(BATCH))
    return torch.stack(logps, 1), torch.stack(rewards, 1)


policy = CueMemoryPolicy()
opt = torch.optim.Adam(policy.parameters(), lr=1e-2)

for it in range(250):
    logp, rew = run_batch(policy)
    rtg = torch.flip(torch.cumsum(torch.flip(rew, dims=[1]), dim=1), dims=[1])
    baseline = rtg.mean(dim=0, keepdim=True)
    loss = -((rtg - baseline) * logp).sum(dim=1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 25 == 0 or it == 249:
        print(f"iter {it:3d}  loss {loss.item():+.4f}  success {rew[:, -1].mean().item():.3f}")
