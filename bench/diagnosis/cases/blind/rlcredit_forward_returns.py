# source: https://github.com/mohmdelsayed/streaming-drl/issues/3
# expect: returns-misordered
# category: rl
# bug: the "return" of each step is a discounted running sum of the rewards received so far (past rewards), not of the rewards still to come, so the early choice that decides the final payoff gets no credit
import torch
import torch.nn.functional as F

torch.manual_seed(4)

N_DOORS = 4
WALK = 5          # steps of corridor after the door choice
GAMMA = 0.99
OBS_DIM = N_DOORS + WALK + 1


def observation(t, sign):
    o = torch.zeros(OBS_DIM)
    if t == 0:
        o[sign] = 1.0           # a sign shows which door leads to the treasure
    else:
        o[N_DOORS + t - 1] = 1.0
    return o


def episode(params):
    sign = torch.randint(0, N_DOORS, (1,)).item()
    obs, acts, rews = [], [], []
    door = None
    for t in range(WALK + 1):
        o = observation(t, sign)
        with torch.no_grad():
            probs = F.softmax(policy(params, o), -1)
        a = torch.multinomial(probs, 1).item()
        if t == 0:
            door = a
            r = -0.1            # opening any door costs a little
        elif t == WALK:
            r = 1.0 if door == sign else 0.0
        else:
            r = 0.0
        obs.append(o)
        acts.append(a)
        rews.append(r)
    return obs, acts, rews


def policy(params, x):
    W1, b1, W2, b2 = params
    return torch.tanh(x @ W1 + b1) @ W2 + b2


def discounted(rews):
    out, acc = [], 0.0
    for r in rews:
        acc = acc * GAMMA + r
        out.append(acc)
    return torch.tensor(out)


params = [
    (0.3 * torch.randn(OBS_DIM, 32)).requires_grad_(),
    torch.zeros(32, requires_grad=True),
    (0.3 * torch.randn(32, N_DOORS)).requires_grad_(),
    torch.zeros(N_DOORS, requires_grad=True),
]
opt = torch.optim.Adam(params, lr=5e-3)

running = []
for it in range(250):
    all_obs, all_act, all_ret, wins = [], [], [], 0
    for _ in range(8):
        obs, acts, rews = episode(params)
        all_obs += obs
        all_act += acts
        all_ret.append(discounted(rews))
        wins += rews[-1] > 0
    G = torch.cat(all_ret)
    G = G - G.mean()
    logp = F.log_softmax(policy(params, torch.stack(all_obs)), -1)
    logp = logp.gather(1, torch.tensor(all_act).unsqueeze(1)).squeeze(1)
    loss = -(logp * G).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    running.append(wins / 8)
    if it % 25 == 0 or it == 249:
        print(f"iter {it:3d}  loss {loss.item():+.4f}  win_rate(last 25) {sum(running[-25:]) / len(running[-25:]):.3f}")
