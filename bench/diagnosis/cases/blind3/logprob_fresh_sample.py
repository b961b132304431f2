# source: https://discuss.pytorch.org/t/confusion-about-computing-policy-gradient-with-automatic-differentiation-material-from-berkeley-cs285/111672
# expect: log-prob-of-untaken-action
# category: rl
# bug: the loss uses dist.log_prob(dist.sample()), a second draw, instead of the log-prob of the action that was executed
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

n_states = 6
n_actions = 4
table = torch.randint(n_actions, (n_states,))

net = nn.Sequential(nn.Linear(n_states, 32), nn.ReLU(), nn.Linear(32, n_actions))
optimizer = torch.optim.Adam(net.parameters(), lr=0.01)

for episode in range(300):
    log_probs = []
    rewards = []
    for t in range(10):
        s = torch.randint(n_states, (1,)).item()
        x = F.one_hot(torch.tensor(s), n_states).float()
        dist = torch.distributions.Categorical(logits=net(x))
        action = dist.sample()
        reward = 1.0 if action.item() == table[s].item() else 0.0
        log_probs.append(dist.log_prob(dist.sample()))
        rewards.append(reward)
    rewards = torch.tensor(rewards)
    baseline = rewards.mean()
    loss = -(torch.stack(log_probs) * (rewards - baseline)).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if episode % 30 == 0 or episode == 299:
        print("episode", episode, "loss", round(loss.item(), 4), "total reward", rewards.sum().item())
