# source: https://github.com/PacktPublishing/Tensorflow-2-Reinforcement-Learning-Cookbook/issues/27
# expect: returns-wrong-order
# category: rl
# bug: the list of discounted returns is reversed inside the accumulation loop instead of once after it, so returns end up paired with the wrong time steps
import torch
import torch.nn as nn

torch.manual_seed(1)


class LeverRoom:
    """A light shows which of three levers works; the payout drops one step later."""

    def __init__(self, n_levers=3, horizon=16, delay=1):
        self.n = n_levers
        self.horizon = horizon
        self.delay = delay

    def reset(self):
        self.t = 0
        self.queue = [torch.tensor(0.0)] * self.delay
        self.light = int(torch.randint(self.n, (1,)))
        return self.observe()

    def observe(self):
        x = torch.zeros(self.n)
        x[self.light] = 1.0
        return x

    def step(self, a):
        self.queue.append(torch.tensor(1.0 if a == self.light else 0.0))
        r = self.queue.pop(0)
        self.t += 1
        done = self.t >= self.horizon
        if done:
            r = r + torch.stack(self.queue).sum()
        self.light = int(torch.randint(self.n, (1,)))
        return self.observe(), r, done


class Policy(nn.Module):
    def __init__(self, n_in, n_actions):
        super().__init__()
        self.fc1 = nn.Linear(n_in, 24)
        self.fc2 = nn.Linear(24, n_actions)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def discount_rewards(rewards, gamma=0.7):
    discounted_rewards = []
    running = torch.tensor(0.0)
    for r in reversed(rewards):
        running = r + gamma * running
        discounted_rewards.append(running)
        discounted_rewards.reverse()
    return torch.stack(discounted_rewards)


env = LeverRoom()
policy = Policy(3, 3)
opt = torch.optim.SGD(policy.parameters(), lr=0.02, momentum=0.9)

for it in range(240):
    batch_logp, batch_ret, ep_rewards = [], [], []
    for _ in range(3):
        s = env.reset()
        done = False
        logps, rews = [], []
        while not done:
            dist = torch.distributions.Categorical(logits=policy(s))
            a = dist.sample()
            logps.append(dist.log_prob(a))
            s, r, done = env.step(a.item())
            rews.append(r)
        batch_logp.append(torch.stack(logps))
        batch_ret.append(discount_rewards(rews))
        ep_rewards.append(torch.stack(rews).sum().item())
    logp = torch.cat(batch_logp)
    ret = torch.cat(batch_ret)
    ret = ret - ret.mean()
    loss = -(logp * ret).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 30 == 0 or it == 239:
        print("iter", it, "loss %.4f" % loss.item(), "mean episode reward %.3f" % (sum(ep_rewards) / len(ep_rewards)))
