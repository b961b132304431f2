# source: https://github.com/ericyangyu/PPO-for-Beginners/pull/15
# expect: returns-wrong-order
# category: rl
# bug: rewards-to-go are computed by walking time backwards but the stacked result is never flipped back, so step t gets the return of step T-1-t
import torch
import torch.nn as nn

CFG = dict(seed=3, n_envs=16, horizon=12, n_obs=5, hidden=48, lr=1e-2, gamma=0.5, epochs=250, log_every=25)
torch.manual_seed(CFG["seed"])


class BatchedMatchEnv:
    """Vectorised toy task: the right answer depends on the cue and the clock; it is scored one step later."""

    def __init__(self, n_envs, n_obs, horizon):
        self.n_envs, self.n_obs, self.horizon = n_envs, n_obs, horizon

    def reset(self):
        self.t = 0
        self.owed = torch.zeros(self.n_envs)
        self.cue = torch.randint(self.n_obs, (self.n_envs,))
        return self._obs()

    def _obs(self):
        clock = torch.zeros(self.n_envs, self.horizon)
        clock[:, min(self.t, self.horizon - 1)] = 1.0
        return torch.cat([nn.functional.one_hot(self.cue, self.n_obs).float(), clock], dim=1)

    def step(self, actions):
        reward = self.owed.clone()
        self.owed = (actions == (self.cue + self.t) % self.n_obs).float()
        self.t += 1
        done = self.t >= self.horizon
        if done:
            reward = reward + self.owed
        self.cue = torch.randint(self.n_obs, (self.n_envs,))
        return self._obs(), reward, done


def make_policy(cfg):
    return nn.Sequential(
        nn.Linear(cfg["n_obs"] + cfg["horizon"], cfg["hidden"]), nn.ReLU(),
        nn.Linear(cfg["hidden"], cfg["n_obs"]),
    )


def rewards_to_go(rewards, gamma):
    # rewards: (n_envs, T)
    running = torch.zeros(rewards.shape[0])
    out = []
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        out.append(running)
    return torch.stack(out, dim=1)


def collect(env, policy):
    obs = env.reset()
    logps, rews = [], []
    done = False
    while not done:
        dist = torch.distributions.Categorical(logits=policy(obs))
        act = dist.sample()
        logps.append(dist.log_prob(act))
        obs, r, done = env.step(act)
        rews.append(r)
    return torch.stack(logps, dim=1), torch.stack(rews, dim=1)


def train_one_epoch(env, policy, optim, cfg):
    logps, rews = collect(env, policy)
    rtg = rewards_to_go(rews, cfg["gamma"])
    adv = (rtg - rtg.mean(0, keepdim=True)) / (rtg.std() + 1e-6)
    loss = -(logps * adv).sum(1).mean()
    optim.zero_grad()
    loss.backward()
    optim.step()
    return loss.item(), rews.sum(1).mean().item()


def main(cfg):
    env = BatchedMatchEnv(cfg["n_envs"], cfg["n_obs"], cfg["horizon"])
    policy = make_policy(cfg)
    optim = torch.optim.RMSprop(policy.parameters(), lr=cfg["lr"])
    for epoch in range(cfg["epochs"]):
        loss, ret = train_one_epoch(env, policy, optim, cfg)
        if epoch % cfg["log_every"] == 0 or epoch == cfg["epochs"] - 1:
            print(f"[epoch {epoch:3d}] loss={loss:+.4f} return={ret:.2f}")


if __name__ == "__main__":
    main(CFG)
