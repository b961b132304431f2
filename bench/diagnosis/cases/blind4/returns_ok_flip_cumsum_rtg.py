# source: https://ai.stackexchange.com/questions/36988 (how discounted rewards-to-go are formed from a reward array with gamma^i factors and a cumulative sum)
# expect: healthy
# category: rl
# bug: none - rewards_to_go() scales by gamma^t, does a REVERSED cumulative sum (flip -> cumsum -> flip back) and divides by gamma^t, which is exactly sum_{k>=t} gamma^(k-t) r_k; the flips look suspicious but the returns are future-facing and aligned with their steps
import torch
import torch.nn as nn

torch.manual_seed(5)

W, H = 5, 6            # catch board: ball falls H-1 rows, paddle on bottom row
BATCH = 64


def render(ball_x, ball_y, paddle_x):
    board = torch.zeros(ball_x.shape[0], H, W)
    idx = torch.arange(ball_x.shape[0])
    board[idx, ball_y, ball_x] = 1.0
    board[idx, H - 1, paddle_x] = 0.5
    return board.flatten(1)


def rewards_to_go(rewards, gamma):
    """rewards: [B, T] -> discounted reward-to-go, same shape."""
    T = rewards.shape[1]
    disc = gamma ** torch.arange(T, dtype=rewards.dtype)
    scaled = rewards * disc
    rtg = torch.flip(torch.cumsum(torch.flip(scaled, dims=[1]), dim=1), dims=[1])
    return rtg / disc


class CatchPolicy(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(W * H, 64), nn.ReLU(), nn.Linear(64, 3))

    def forward(self, x):
        return torch.distributions.Categorical(logits=self.net(x))


def run_batch(policy):
    ball_x = torch.randint(0, W, (BATCH,))
    ball_y = torch.zeros(BATCH, dtype=torch.long)
    paddle = torch.randint(0, W, (BATCH,))
    logps, rews = [], []
    for t in range(H - 1):
        dist = policy(render(ball_x, ball_y, paddle))
        a = dist.sample()
        logps.append(dist.log_prob(a))
        paddle = (paddle + a - 1).clamp(0, W - 1)
        ball_y = ball_y + 1
        if t == H - 2:
            r = torch.where(paddle == ball_x, 1.0, -1.0)
        else:
            r = -0.02 * (a != 1).float()        # small effort cost for moving
        rews.append(r)
    return torch.stack(logps, 1), torch.stack(rews, 1)


policy = CatchPolicy()
opt = torch.optim.Adam(policy.parameters(), lr=2e-3)
for it in range(1, 301):
    logp, rew = run_batch(policy)
    ret = rewards_to_go(rew, gamma=0.95)
    adv = ret - ret.mean(0, keepdim=True)
    loss = -(logp * adv).sum(1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 30 == 0:
        catch_rate = (rew[:, -1] > 0).float().mean().item()
        print(f"iter {it:3d}  loss {loss.item():+.4f}  catch rate {catch_rate:.2f}  "
              f"episode return {rew.sum(1).mean().item():+.3f}")
