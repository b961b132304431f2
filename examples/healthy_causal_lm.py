"""Healthy: a small causal transformer language model with warmup + cosine decay and clipping."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from toydata import sequences


class TinyLM(nn.Module):
    def __init__(self, vocab=16, dim=64, heads=4, layers=2, length=32):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(1, length, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.1, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):
        t = idx.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t)
        h = self.blocks(self.tok(idx) + self.pos[:, :t], mask=mask, is_causal=True)
        return self.head(self.norm(h))


def next_token_loss(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def make_setup():
    """For `traindoctor checkup examples/healthy_causal_lm.py:make_setup`."""
    torch.manual_seed(0)
    batch = sequences(n=32)
    model = TinyLM()
    return {"model": model, "batch": (batch[:, :-1], batch[:, 1:]), "loss_fn": next_token_loss,
            "optimizer": torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)}


if __name__ == "__main__":
    torch.manual_seed(0)
    data = sequences(n=512)
    model = TinyLM()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    steps, warmup = 150, 15
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    for step in range(steps):
        batch = data[torch.randint(0, len(data), (32,))]
        logits = model(batch[:, :-1])
        loss = next_token_loss(logits, batch[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 25 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.6f}")
