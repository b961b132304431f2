# source: https://github.com/pytorch/pytorch/issues/163026
# expect: causal-leak, label-leakage
# category: lm
# bug: a 0/1 float tril matrix is passed as attn_mask to scaled_dot_product_attention, which adds float masks to the scores instead of masking, so nothing is hidden and tokens see the future
import torch
import torch.nn as nn
import torch.nn.functional as F
from dataclasses import dataclass


@dataclass
class Config:
    vocab_size: int = 32
    block_size: int = 32
    n_embd: int = 64
    n_head: int = 4
    n_layer: int = 2
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    max_iters: int = 250
    log_every: int = 25


def sample_tokens(cfg, n, gen):
    # copy-ish task: each token repeats the one 3 steps back with prob 0.5, else random
    x = torch.randint(0, cfg.vocab_size, (n, cfg.block_size + 1), generator=gen)
    keep = torch.rand(n, cfg.block_size + 1, generator=gen) < 0.5
    for t in range(3, cfg.block_size + 1):
        x[:, t] = torch.where(keep[:, t], x[:, t - 3], x[:, t])
    return x


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.register_buffer("bias", torch.tril(torch.ones(cfg.block_size, cfg.block_size)).view(1, 1, cfg.block_size, cfg.block_size))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.bias[:, :, :T, :T])
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(), nn.Linear(4 * cfg.n_embd, cfg.n_embd))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)

    def forward(self, idx, targets=None):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for blk in self.blocks:
            x = blk(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


def main():
    cfg = Config()
    torch.manual_seed(1337)
    gen = torch.Generator().manual_seed(7)
    data = sample_tokens(cfg, 2048, gen)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for it in range(cfg.max_iters):
        ix = torch.randint(0, data.size(0), (cfg.batch_size,))
        xb, yb = data[ix, :-1], data[ix, 1:]
        _, loss = model(xb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if it % cfg.log_every == 0 or it == cfg.max_iters - 1:
            print(f"iter {it}: train loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
