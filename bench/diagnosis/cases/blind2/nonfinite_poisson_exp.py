# source: https://github.com/keras-team/keras/issues/590
# expect: nonfinite-forward
# category: regression
# bug: Poisson rate computed as exp(raw network output) and loss written as rate - y*log(rate); the output grows, exp overflows to inf and the loss turns NaN
import torch
import torch.nn as nn

torch.manual_seed(1)

# hourly bike rentals per station from weather/time features (synthetic counts)
n = 3000
hour = torch.randint(0, 24, (n,)).float()
temp = torch.randn(n) * 8 + 15
rain = (torch.rand(n) < 0.2).float()
weekend = (torch.rand(n) < 0.3).float()
feats = torch.stack([
    torch.sin(hour / 24 * 6.283), torch.cos(hour / 24 * 6.283),
    (temp - 15) / 8, rain, weekend,
], dim=1)
log_mu = 3.0 + 0.8 * feats[:, 0] + 0.5 * feats[:, 2] - 1.2 * rain + 0.3 * weekend
counts = torch.poisson(torch.exp(log_mu))

train_x, train_y = feats[:2500], counts[:2500]
val_x, val_y = feats[2500:], counts[2500:]

net = nn.Sequential(
    nn.Linear(5, 64), nn.Tanh(),
    nn.Linear(64, 64), nn.Tanh(),
    nn.Linear(64, 1),
)
optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)


def poisson_loss(rate, y):
    return (rate - y * torch.log(rate)).mean()


def train(epochs=10, bs=100):
    step = 0
    for ep in range(epochs):
        order = torch.randperm(len(train_x))
        for b in range(0, len(train_x), bs):
            idx = order[b:b + bs]
            rate = torch.exp(net(train_x[idx]).squeeze(1))
            loss = poisson_loss(rate, train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % 20 == 0:
                print(f"step {step:4d}  poisson nll {loss.item():.3f}")
            step += 1
        with torch.no_grad():
            vr = torch.exp(net(val_x).squeeze(1))
            print(f"epoch {ep} val nll {poisson_loss(vr, val_y).item():.3f}")


train()
