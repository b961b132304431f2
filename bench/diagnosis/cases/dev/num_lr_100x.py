# source: https://datascience.stackexchange.com/questions/15962/why-is-learning-rate-causing-my-neural-networks-weights-to-skyrocket
# expect: lr-too-high
# category: regression
# bug: SGD with momentum runs at lr=1.0, about 100x the stable rate for this network; the first steps overshoot, the loss climbs by orders of magnitude and turns inf/NaN within the first epoch
import torch
import torch.nn as nn


def make_data(n=2000, seed=9):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 8, generator=g) * 2 - 1
    y = (x[:, 0] * x[:, 1] + torch.sin(3 * x[:, 2]) + 0.5 * x[:, 3:].sum(1)).unsqueeze(1)
    return x, y


def build_model():
    return nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))


def train(lr=1.0, epochs=10, bs=50):
    torch.manual_seed(9)
    x, y = make_data()
    model = build_model()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.MSELoss()
    step = 0
    for epoch in range(epochs):
        for i in range(0, len(x), bs):
            loss = loss_fn(model(x[i:i + bs]), y[i:i + bs])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step < 12 or i == 0:
                print(f"epoch {epoch} step {step:3d}  loss {loss.item():.4g}")
            step += 1


if __name__ == "__main__":
    train()
