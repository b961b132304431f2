# source: https://github.com/tensorflow/tfjs-core/issues/502
# expect: params-not-in-optimizer, optimizer-params-unused
# category: classification
# bug: the optimizer is created from a first model, then the model is rebuilt (to apply the config) and the new one is trained: the optimizer keeps stepping the stale parameters and the trained model never changes
"""MLP classifier on Gaussian blobs, configured from a dict."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

CONFIG = {"hidden": 64, "lr": 0.05, "classes": 5, "dim": 10}


def build_model(cfg):
    return nn.Sequential(
        nn.Linear(cfg["dim"], cfg["hidden"]), nn.ReLU(),
        nn.Linear(cfg["hidden"], cfg["hidden"]), nn.ReLU(),
        nn.Linear(cfg["hidden"], cfg["classes"]),
    )


centers = torch.randn(CONFIG["classes"], CONFIG["dim"]) * 2.0
y_all = torch.randint(0, CONFIG["classes"], (1500,))
x_all = centers[y_all] + torch.randn(1500, CONFIG["dim"])


class Trainer:
    def __init__(self, cfg):
        self.cfg = cfg
        self.model = build_model(cfg)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=cfg["lr"], momentum=0.9)

    def setup(self):
        # re-apply the config (e.g. after a hyper-parameter change) ...
        self.model = build_model(self.cfg)    # BUG: new parameters, optimizer still holds the old ones

    def fit(self, epochs=5, bs=100):
        for epoch in range(epochs):
            perm = torch.randperm(len(x_all))
            tot = 0.0
            for i in range(0, len(x_all), bs):
                idx = perm[i:i + bs]
                loss = F.cross_entropy(self.model(x_all[idx]), y_all[idx])
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                tot += loss.item() * len(idx)
            print(f"epoch {epoch}  loss {tot / len(x_all):.4f}")


trainer = Trainer(CONFIG)
trainer.setup()
trainer.fit()
