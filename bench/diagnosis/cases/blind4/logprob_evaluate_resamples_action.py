# source: https://github.com/thu-ml/tianshou/issues/397 ("Vanilla PG log prob is not the original log prob?" - a second forward pass where a different action may be sampled than the one stored in the buffer)
# expect: log-prob-of-untaken-action
# category: rl
# bug: HeaterPolicy.evaluate() draws a NEW action from the distribution and returns its log-prob, so the REINFORCE loss weights log pi(a_fresh|s) by the return of the action actually applied; the gradient has zero expected signal and the controller never tracks the setpoint
import torch
import torch.nn as nn

torch.manual_seed(21)

N_ZONES = 64          # rooms simulated in parallel
STEPS = 48            # half-hour control steps over a day
GAMMA = 0.95


class ThermalZones:
    """Room temperature driven by a heater and a cold outside; setpoint changes per episode."""

    def reset(self):
        self.temp = 14 + 6 * torch.rand(N_ZONES)
        self.outside = 2 + 8 * torch.rand(N_ZONES)
        self.setpoint = 19 + 3 * torch.rand(N_ZONES)
        return self.obs()

    def obs(self):
        return torch.stack([(self.temp - 20) / 5, (self.outside - 6) / 4, (self.setpoint - 20) / 2,
                            (self.setpoint - self.temp) / 5], 1)

    def step(self, power):
        power = power.clamp(0.0, 1.0)
        self.temp = self.temp + 0.1 * (self.outside - self.temp) + 4.0 * power
        err = (self.temp - self.setpoint).abs()
        reward = -err - 0.2 * power
        return self.obs(), reward


class HeaterPolicy(nn.Module):
    def __init__(self):
        super().__init__()
        self.mean = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
        self.log_std = nn.Parameter(torch.tensor([-1.0]))

    def distribution(self, obs):
        mu = torch.sigmoid(self.mean(obs)).squeeze(-1)
        return torch.distributions.Normal(mu, self.log_std.exp())

    @torch.no_grad()
    def act(self, obs):
        return self.distribution(obs).sample()

    def evaluate(self, obs):
        dist = self.distribution(obs)
        action = dist.sample()
        return dist.log_prob(action), dist.entropy()


critic = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Linear(64, 1))
policy = HeaterPolicy()
opt = torch.optim.Adam([{"params": policy.parameters(), "lr": 3e-3},
                        {"params": critic.parameters(), "lr": 3e-3}])
env = ThermalZones()

for episode in range(1, 81):
    obs = env.reset()
    states, rewards = [], []
    for t in range(STEPS):
        a = policy.act(obs)
        states.append(obs)
        obs, r = env.step(a)
        rewards.append(r)
    S = torch.stack(states)                  # [T, N, 4]
    R = torch.stack(rewards)                 # [T, N]
    G = torch.zeros_like(R)
    running = torch.zeros(N_ZONES)
    for t in reversed(range(STEPS)):
        running = R[t] + GAMMA * running
        G[t] = running

    values = critic(S).squeeze(-1)
    adv = (G - values).detach()
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    logp, ent = policy.evaluate(S)
    policy_loss = -(logp * adv).mean() - 1e-3 * ent.mean()
    value_loss = (values - G).pow(2).mean() / 100.0
    opt.zero_grad()
    (policy_loss + value_loss).backward()
    opt.step()

    if episode % 8 == 0:
        tracking = (env.temp - env.setpoint).abs().mean().item()
        print(f"episode {episode:3d}  policy_loss {policy_loss.item():+.4f}  value_loss {value_loss.item():.3f}  "
              f"avg reward {R.mean().item():+.3f}  final |T-set| {tracking:.2f}C")
