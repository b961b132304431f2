# source: https://github.com/harvardnlp/namedtensor/issues/66
# expect: targets-misaligned
# category: regression
# bug: the helper stacks the per-horizon target columns into (H, B) while the model predicts (B, H); both are flattened with reshape(-1) before the MSE, pairing each forecast with another row's target
import numpy as np
import torch
import torch.nn as nn

CONFIG = {"n_rows": 2048, "n_feats": 10, "horizons": 4, "hidden": 64, "batch": 64, "lr": 1e-3, "epochs": 8, "seed": 21}


def make_table(cfg):
    rng = np.random.default_rng(cfg["seed"])
    X = rng.normal(size=(cfg["n_rows"], cfg["n_feats"])).astype(np.float32)
    W = rng.normal(size=(cfg["n_feats"], cfg["horizons"])).astype(np.float32)
    Y = np.tanh(X @ W) + 0.05 * rng.normal(size=(cfg["n_rows"], cfg["horizons"])).astype(np.float32)
    cols = {f"y_h{h + 1}": Y[:, h] for h in range(cfg["horizons"])}
    return X, cols


def targets_from_columns(cols, idx):
    return torch.stack([torch.from_numpy(cols[k][idx]) for k in sorted(cols)])


def build_model(cfg):
    return nn.Sequential(
        nn.Linear(cfg["n_feats"], cfg["hidden"]), nn.ReLU(),
        nn.Linear(cfg["hidden"], cfg["hidden"]), nn.ReLU(),
        nn.Linear(cfg["hidden"], cfg["horizons"]),
    )


def train_one_epoch(model, opt, X, cols, cfg, rng):
    order = rng.permutation(cfg["n_rows"])
    losses = []
    for b in range(0, cfg["n_rows"], cfg["batch"]):
        idx = order[b:b + cfg["batch"]]
        xb = torch.from_numpy(X[idx])
        yb = targets_from_columns(cols, idx)
        pred = model(xb)
        loss = nn.functional.mse_loss(pred.reshape(-1), yb.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def main(cfg=CONFIG):
    torch.manual_seed(cfg["seed"])
    X, cols = make_table(cfg)
    model = build_model(cfg)
    opt = torch.optim.RMSprop(model.parameters(), lr=cfg["lr"])
    rng = np.random.default_rng(0)
    for ep in range(cfg["epochs"]):
        print(f"[epoch {ep}] train mse = {train_one_epoch(model, opt, X, cols, cfg, rng):.4f}")


if __name__ == "__main__":
    main()
