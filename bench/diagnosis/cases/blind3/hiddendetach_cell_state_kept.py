# source: https://github.com/sgadgil6/cnslab_fmri/issues/4
# expect: state-not-detached
# category: sequence
# bug: the stateful LSTM's repackage helper detaches h but hands the cell state c to the next window with its graph still attached
import torch
import torch.nn as nn
import torch.nn.functional as F

CFG = {
    "seed": 2, "batch": 16, "window": 30, "total_len": 1800, "n_feat": 3, "hidden": 48,
    "lr": 2e-3, "epochs": 2, "log_every": 25,
}


def make_streams(cfg):
    g = torch.Generator().manual_seed(cfg["seed"])
    x = torch.randn(cfg["batch"], cfg["total_len"], cfg["n_feat"], generator=g)
    # label: sign of a leaky running sum of the first feature (needs memory across windows)
    acc = torch.zeros(cfg["batch"])
    labels = []
    for t in range(cfg["total_len"]):
        acc = 0.95 * acc + x[:, t, 0]
        labels.append((acc > 0).long())
    return x, torch.stack(labels, 1)


class StatefulTagger(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.lstm = nn.LSTM(cfg["n_feat"], cfg["hidden"], batch_first=True)
        self.cls = nn.Linear(cfg["hidden"], 2)

    def forward(self, x, state):
        out, state = self.lstm(x, state)
        return self.cls(out), state


def repackage(state):
    h, c = state
    return h.detach(), c


def train_one_epoch(model, optim, x, y, cfg, epoch):
    state = None
    for i, start in enumerate(range(0, cfg["total_len"], cfg["window"])):
        xb = x[:, start:start + cfg["window"]]
        yb = y[:, start:start + cfg["window"]]
        if state is not None:
            state = repackage(state)
        logits, state = model(xb, state)
        loss = F.cross_entropy(logits.reshape(-1, 2), yb.reshape(-1))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        if i % cfg["log_every"] == 0:
            acc = (logits.argmax(-1) == yb).float().mean().item()
            print(f"epoch {epoch} window {i:3d} loss {loss.item():.4f} acc {acc:.3f}")


def main(cfg):
    torch.manual_seed(cfg["seed"])
    x, y = make_streams(cfg)
    model = StatefulTagger(cfg)
    optim = torch.optim.RMSprop(model.parameters(), lr=cfg["lr"])
    for epoch in range(cfg["epochs"]):
        train_one_epoch(model, optim, x, y, cfg, epoch)


if __name__ == "__main__":
    main(CFG)
