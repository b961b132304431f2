# source: Hugging Face-style `_init_weights` (normal_(std=config.initializer_range=0.02)) reused outside a Transformer; cf. transformers issue discussions on initializer_range being tuned for LayerNorm'd models, and Glorot & Bengio 2010 on vanishing signals in deep nets
# expect: vanishing-gradients
# category: tabular
# bug: the BERT default initializer_range=0.02 is applied to a deep, LayerNorm-free GELU MLP with 192-wide layers; each layer scales the signal by ~0.02*sqrt(192)*0.5 = 0.14, so after 5 layers the logit ignores the input and gradients to the embeddings/first layers vanish under SGD
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(8)
np.random.seed(8)


@dataclass
class CTRConfig:
    field_sizes: tuple = (120, 80, 30, 24, 7)   # user, ad, site, hour, weekday
    emb_dim: int = 16
    hidden: int = 192
    n_layers: int = 5
    initializer_range: float = 0.02
    lr: float = 0.05
    momentum: float = 0.9
    batch_size: int = 256
    epochs: int = 6


class ClickLog(Dataset):
    """Synthetic impression log; click prob from a hidden factorisation-machine teacher."""

    def __init__(self, cfg, n, seed, teacher=None):
        rng = np.random.default_rng(seed)
        self.x = np.stack([rng.integers(0, s, n) for s in cfg.field_sizes], 1)
        if teacher is None:
            teacher = [rng.normal(0, 0.8, (s, 6)) for s in cfg.field_sizes]
        self.teacher = teacher
        v = [teacher[f][self.x[:, f]] for f in range(len(cfg.field_sizes))]
        logit = -1.0 + sum(v_[:, 0] for v_ in v)
        for i in range(len(v)):
            for j in range(i + 1, len(v)):
                logit = logit + (v[i] * v[j]).sum(1) * 0.5
        p = 1 / (1 + np.exp(-logit))
        self.y = (rng.random(n) < p).astype(np.float32)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.from_numpy(self.x[i]), torch.tensor(self.y[i])


class DeepCTR(nn.Module):
    def __init__(self, cfg: CTRConfig):
        super().__init__()
        self.config = cfg
        self.embs = nn.ModuleList([nn.Embedding(s, cfg.emb_dim) for s in cfg.field_sizes])
        dims = [cfg.emb_dim * len(cfg.field_sizes)] + [cfg.hidden] * cfg.n_layers
        self.mlp = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])])
        self.out = nn.Linear(cfg.hidden, 1)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=self.config.initializer_range)

    def forward(self, fields):
        h = torch.cat([e(fields[:, i]) for i, e in enumerate(self.embs)], dim=1)
        for lin in self.mlp:
            h = F.gelu(lin(h))
        return self.out(h).squeeze(1)


def auc(scores, labels):
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def main():
    cfg = CTRConfig()
    train = ClickLog(cfg, 20000, 0)
    test = ClickLog(cfg, 5000, 1, teacher=train.teacher)
    print(f"train CTR {train.y.mean():.3f}")
    dl = DataLoader(train, batch_size=cfg.batch_size, shuffle=True)
    model = DeepCTR(cfg)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    xt, yt = torch.from_numpy(test.x), torch.from_numpy(test.y)
    for ep in range(cfg.epochs):
        model.train()
        tot, n = 0.0, 0
        for xb, yb in dl:
            loss = F.binary_cross_entropy_with_logits(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(yb)
            n += len(yb)
        model.eval()
        with torch.no_grad():
            s = model(xt)
            tl = F.binary_cross_entropy_with_logits(s, yt).item()
        print(f"epoch {ep + 1} logloss {tot / n:.4f} test_logloss {tl:.4f} test_auc {auc(s.numpy(), test.y):.4f}")


if __name__ == "__main__":
    main()
