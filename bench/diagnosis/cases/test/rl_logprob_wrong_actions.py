# source: https://github.com/sherjilozair/dqn/issues/4
# expect: wrong-action-logprob, batch-mixing
# category: rl
# bug: the taken actions' log-probabilities are picked with logp[:, actions] instead of gather, which builds a (B, B) matrix: every sample is credited with every other sample's action
"""Policy gradient on a contextual bandit: 5 contexts, 5 arms, the right arm is the context's id."""
import torch
import torch.nn as nn

torch.manual_seed(3)

K = 5
BATCH = 64


def sample_contexts(n):
    ids = torch.randint(0, K, (n,))
    x = torch.nn.functional.one_hot(ids, K).float() + 0.1 * torch.randn(n, K)
    return x, ids


policy = nn.Sequential(nn.Linear(K, 32), nn.ReLU(), nn.Linear(32, K))
opt = torch.optim.SGD(policy.parameters(), lr=0.1, momentum=0.9)

for step in range(200):
    x, ctx = sample_contexts(BATCH)
    logits = policy(x)
    log_probs = torch.log_softmax(logits, dim=-1)
    with torch.no_grad():
        actions = torch.multinomial(log_probs.exp(), 1).squeeze(1)
    reward = (actions == ctx).float()
    advantage = reward - reward.mean()
    taken = log_probs[:, actions]          # BUG: (B, B); should be log_probs.gather(1, actions[:, None]).squeeze(1)
    loss = -(taken * advantage).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 20 == 0 or step == 199:
        print(f"step {step:3d}  loss {loss.item():+.4f}  mean reward {reward.mean().item():.3f}")
