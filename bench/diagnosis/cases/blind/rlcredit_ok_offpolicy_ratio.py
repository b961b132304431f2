# source: https://github.com/thu-ml/tianshou/issues/397
# expect: healthy
# category: rl
# bug: none — actions come from an exploratory behaviour policy (mixed with uniform); the update re-evaluates log pi of the STORED actions and weights them with a clipped importance ratio against the stored behaviour log-probs
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)

N_FEATURES = 6
N_ARMS = 4
EPS = 0.3
W_TRUE = torch.randn(N_FEATURES, N_ARMS)


def contexts(n):
    return torch.randn(n, N_FEATURES)


def pull(ctx, arms):
    best = (ctx @ W_TRUE).argmax(dim=1)
    return (arms == best).float() + 0.1 * torch.randn(len(arms))


policy = nn.Sequential(nn.Linear(N_FEATURES, 48), nn.Tanh(), nn.Linear(48, N_ARMS))
opt = torch.optim.Adam(policy.parameters(), lr=3e-3)

for rnd in range(60):
    # collect with an exploratory behaviour policy
    ctx = contexts(256)
    with torch.no_grad():
        pi = F.softmax(policy(ctx), dim=-1)
        behaviour = (1 - EPS) * pi + EPS / N_ARMS
        arms = torch.multinomial(behaviour, 1).squeeze(1)
        behaviour_logp = torch.log(behaviour.gather(1, arms.unsqueeze(1)).squeeze(1))
    reward = pull(ctx, arms)
    adv = reward - reward.mean()

    # a few epochs of clipped importance-weighted updates on the stored batch
    for epoch in range(4):
        logp = F.log_softmax(policy(ctx), dim=-1).gather(1, arms.unsqueeze(1)).squeeze(1)
        ratio = torch.exp(logp - behaviour_logp)
        surr = torch.min(ratio * adv, ratio.clamp(0.7, 1.3) * adv)
        loss = -surr.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    if rnd % 6 == 0 or rnd == 59:
        with torch.no_grad():
            test = contexts(1000)
            greedy_acc = (policy(test).argmax(1) == (test @ W_TRUE).argmax(1)).float().mean().item()
        print(f"round {rnd:2d}  loss {loss.item():+.4f}  mean_reward {reward.mean().item():.3f}  greedy_acc {greedy_acc:.3f}")
