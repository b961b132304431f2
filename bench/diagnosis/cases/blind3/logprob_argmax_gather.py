# source: https://ai.stackexchange.com/questions/26114/understanding-loss-function-gradient-in-asynchronous-advantage-actor-critic-a3c
# expect: log-prob-of-untaken-action
# category: rl
# bug: log pi(a|s) is gathered at the argmax of the logits instead of at the sampled action that was executed
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2)

T, B, D, A = 16, 24, 8, 5
W_true = torch.randn(D, A)


def reward_fn(obs, actions):
    # obs: (T, B, D), actions: (T, B)
    scores = obs @ W_true
    return scores.gather(-1, actions.unsqueeze(-1)).squeeze(-1) - scores.mean(-1)


class Policy(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(D, 64)
        self.l2 = nn.Linear(64, A)

    def forward(self, obs):
        return self.l2(F.gelu(self.l1(obs)))


policy = Policy()
opt = torch.optim.SGD(policy.parameters(), lr=0.05)

for step in range(300):
    obs = torch.randn(T, B, D)
    logits = policy(obs)
    with torch.no_grad():
        actions = torch.distributions.Categorical(logits=logits).sample()
        rewards = reward_fn(obs, actions)
        returns = torch.flip(torch.cumsum(torch.flip(rewards, [0]), 0), [0])
        adv = (returns - returns.mean(1, keepdim=True)) / (returns.std() + 1e-6)
    logp_all = F.log_softmax(logits, dim=-1)
    chosen = logits.argmax(-1, keepdim=True)
    logp = logp_all.gather(-1, chosen).squeeze(-1)
    loss = -(logp * adv).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0 or step == 299:
        print(f"step {step:3d}  pg_loss {loss.item():+.4f}  mean reward {rewards.mean().item():.3f}")
