# source: https://github.com/nicodjimenez/lstm/pull/4
# expect: symmetric-units
# category: sequence
# bug: custom init draws ONE random number per weight tensor and fills the whole tensor with it, so every hidden unit of the GRU and the MLP head is identical
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(3)

config = dict(vocab=12, emb=16, hidden=64, seq_len=16, n_classes=4, lr=3e-3, weight_decay=0.01, steps=200, batch=32)


def sample_batch(bs):
    tokens = torch.randint(0, config["vocab"], (bs, config["seq_len"]))
    # label: which of tokens 0..3 occurs most often
    counts = torch.stack([(tokens == t).sum(1) for t in range(4)], 1).float()
    counts = counts + 0.01 * torch.arange(4)
    return tokens, counts.argmax(1)


class GRUClassifier(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed = nn.Embedding(cfg["vocab"], cfg["emb"])
        self.gru = nn.GRU(cfg["emb"], cfg["hidden"], batch_first=True)
        self.proj = nn.Linear(cfg["hidden"], cfg["hidden"])
        self.head = nn.Linear(cfg["hidden"], cfg["n_classes"])

    def forward(self, tok):
        out, h = self.gru(self.embed(tok))
        z = F.gelu(self.proj(h[-1]))
        return self.head(z)


@torch.no_grad()
def scaled_init_(model):
    for name, p in model.named_parameters():
        if p.dim() < 2:
            nn.init.zeros_(p)
            continue
        fan_in = p.size(-1)
        p.fill_(torch.randn(1).item() / math.sqrt(fan_in))


def train(cfg):
    model = GRUClassifier(cfg)
    scaled_init_(model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    for step in range(cfg["steps"]):
        tok, y = sample_batch(cfg["batch"])
        loss = F.cross_entropy(model(tok), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 25 == 0 or step == cfg["steps"] - 1:
            print(f"[{step:4d}] loss={loss.item():.4f}")
    return model


if __name__ == "__main__":
    train(config)
