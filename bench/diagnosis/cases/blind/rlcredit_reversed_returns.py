# source: https://github.com/PacktPublishing/Tensorflow-2-Reinforcement-Learning-Cookbook/issues/27
# expect: returns-misordered
# category: rl
# bug: discounted returns are accumulated over the reversed reward list but the result is never reversed back, so step t is credited with the return of step T-1-t
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1)
np.random.seed(1)

N_COLORS = 5
N_ACTIONS = 5
EPISODE_LEN = 12
GAMMA = 0.8
rng = np.random.default_rng(1)
ANSWER = rng.permutation(N_ACTIONS)


def play_episode(net):
    """Each step shows a coloured lamp; pressing the button that matches the colour pays 1."""
    obs_list, act_list, rew_list = [], [], []
    for _ in range(EPISODE_LEN):
        color = rng.integers(N_COLORS)
        obs = F.one_hot(torch.tensor(color), N_COLORS).float()
        with torch.no_grad():
            probs = F.softmax(net(obs), dim=-1).numpy()
        probs = probs / probs.sum()
        a = rng.choice(N_ACTIONS, p=probs)
        r = 1.0 if a == ANSWER[color] else 0.0
        obs_list.append(obs)
        act_list.append(a)
        rew_list.append(r)
    return obs_list, act_list, rew_list


def discount(rewards, gamma):
    returns = []
    running = 0.0
    for r in rewards[::-1]:
        running = r + gamma * running
        returns.append(running)
    return returns


net = nn.Sequential(nn.Linear(N_COLORS, 64), nn.ReLU(), nn.Linear(64, N_ACTIONS))
optimizer = torch.optim.Adam(net.parameters(), lr=5e-3)

for episode in range(400):
    obs_list, act_list, rew_list = play_episode(net)
    returns = torch.tensor(discount(rew_list, GAMMA), dtype=torch.float32)
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    logits = net(torch.stack(obs_list))
    logp = F.log_softmax(logits, dim=-1).gather(1, torch.tensor(act_list).unsqueeze(1)).squeeze(1)
    loss = -(logp * returns).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if episode % 40 == 0 or episode == 399:
        print(f"episode {episode:3d}  loss {loss.item():+.3f}  reward {sum(rew_list):.0f}/{EPISODE_LEN}")
