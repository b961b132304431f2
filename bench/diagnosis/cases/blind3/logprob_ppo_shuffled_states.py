# source: https://github.com/ucl-dark/pax/pull/109
# expect: log-prob-of-untaken-action
# category: rl
# bug: PPO minibatches index the observations with the shuffled permutation but take actions, old log-probs and advantages in rollout order, so the ratio is computed for actions the policy did not take in those states
import torch
import torch.nn as nn

torch.manual_seed(5)

H = W = 7
N_ACT = 4
ROLLOUT = 256
MINIBATCH = 64
EPOCHS = 4
CLIP = 0.2


def make_frames(n):
    """NHWC frames with a single bright target; the right move is toward it."""
    frames = 0.1 * torch.rand(n, H, W, 1)
    ys = torch.randint(H, (n,))
    xs = torch.randint(W, (n,))
    frames[torch.arange(n), ys, xs, 0] = 1.0
    dy, dx = ys - H // 2, xs - W // 2
    best = torch.where(dx.abs() >= dy.abs(), torch.where(dx >= 0, 0, 1), torch.where(dy >= 0, 2, 3))
    return frames, best


class ConvPolicy(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Linear(8 * H * W, N_ACT)

    def forward(self, frames_nhwc):
        x = frames_nhwc.permute(0, 3, 1, 2)
        return self.head(self.features(x).flatten(1))


policy = ConvPolicy()
optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-3)

for update in range(20):
    frames, best = make_frames(ROLLOUT)
    with torch.no_grad():
        dist = torch.distributions.Categorical(logits=policy(frames))
        actions = dist.sample()
        old_logp = dist.log_prob(actions)
    rewards = (actions == best).float()
    advantages = (rewards - rewards.mean()) / (rewards.std() + 1e-8)

    for epoch in range(EPOCHS):
        perm = torch.randperm(ROLLOUT)
        for start in range(0, ROLLOUT, MINIBATCH):
            idx = perm[start:start + MINIBATCH]
            mb_frames = frames[idx]
            mb_actions = actions[start:start + MINIBATCH]
            mb_old = old_logp[start:start + MINIBATCH]
            mb_adv = advantages[start:start + MINIBATCH]
            new_logp = torch.distributions.Categorical(logits=policy(mb_frames)).log_prob(mb_actions)
            ratio = torch.exp(new_logp - mb_old)
            surr = torch.min(ratio * mb_adv, torch.clamp(ratio, 1 - CLIP, 1 + CLIP) * mb_adv)
            loss = -surr.mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    print(f"update {update:2d}  loss {loss.item():+.4f}  hit rate {rewards.mean().item():.3f}")
