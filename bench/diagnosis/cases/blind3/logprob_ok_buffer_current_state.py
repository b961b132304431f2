# source: https://github.com/nicklashansen/tdmpc2/issues/34
# expect: healthy
# category: rl
# bug: healthy; rollout buffer keeps the state each action was drawn in (obs advanced after storing), log-probs re-evaluated at update time for the stored actions
from dataclasses import dataclass, field
import torch
import torch.nn as nn

CONFIG = {"seed": 9, "obs_dim": 6, "n_actions": 4, "steps_per_rollout": 128, "iterations": 200,
          "lr": 2e-3, "hidden": 64, "print_every": 20}


class CueEnv:
    def __init__(self, obs_dim, n_actions, seed):
        g = torch.Generator().manual_seed(seed)
        self.map = torch.randn(obs_dim, n_actions, generator=g)
        self.obs_dim = obs_dim
        self.state = torch.randn(obs_dim)

    def reset(self):
        self.state = torch.randn(self.obs_dim)
        return self.state

    def step(self, action):
        reward = float(action == int((self.state @ self.map).argmax()))
        self.state = torch.randn(self.obs_dim)
        return self.state, reward


@dataclass
class RolloutBuffer:
    obs: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    rewards: list = field(default_factory=list)

    def add(self, o, a, r):
        self.obs.append(o)
        self.actions.append(a)
        self.rewards.append(r)

    def tensors(self):
        return torch.stack(self.obs), torch.tensor(self.actions), torch.tensor(self.rewards)


def build_policy(cfg):
    return nn.Sequential(nn.Linear(cfg["obs_dim"], cfg["hidden"]), nn.ELU(),
                         nn.Linear(cfg["hidden"], cfg["n_actions"]))


@torch.no_grad()
def collect_rollout(env, policy, n_steps):
    buf = RolloutBuffer()
    obs = env.reset()
    for _ in range(n_steps):
        action = torch.distributions.Categorical(logits=policy(obs)).sample().item()
        next_obs, reward = env.step(action)
        buf.add(obs, action, reward)
        obs = next_obs
    return buf


def policy_loss(policy, obs, actions, rewards):
    adv = rewards - rewards.mean()
    logp = torch.distributions.Categorical(logits=policy(obs)).log_prob(actions)
    return -(logp * adv).mean()


def main(cfg):
    torch.manual_seed(cfg["seed"])
    env = CueEnv(cfg["obs_dim"], cfg["n_actions"], cfg["seed"])
    policy = build_policy(cfg)
    optimizer = torch.optim.RMSprop(policy.parameters(), lr=cfg["lr"])
    for it in range(cfg["iterations"]):
        obs, actions, rewards = collect_rollout(env, policy, cfg["steps_per_rollout"]).tensors()
        loss = policy_loss(policy, obs, actions, rewards)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if it % cfg["print_every"] == 0 or it == cfg["iterations"] - 1:
            print(f"it={it:03d} loss={loss.item():+.4f} success_rate={rewards.mean().item():.3f}")


if __name__ == "__main__":
    main(CONFIG)
