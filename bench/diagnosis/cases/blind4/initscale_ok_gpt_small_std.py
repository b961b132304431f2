# source: nanoGPT model.py (https://github.com/karpathy/nanoGPT) — normal(0, 0.02) init and c_proj weights scaled by 0.02/sqrt(2*n_layer) per GPT-2 paper
# expect: healthy
# category: lm
# bug: none - the small std (0.02, residual projections 0.02/sqrt(2L)) is the intended GPT-2 init: pre-LayerNorm blocks renormalise activations and the residual stream keeps the signal, so nothing vanishes
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(1337)

VOCAB, CTX = 48, 32
N_LAYER, N_HEAD, N_EMBD = 2, 4, 64


def make_markov_corpus(n_tokens, branching=3):
    """Token stream from a sparse random Markov chain (each token has 3 likely successors)."""
    g = torch.Generator().manual_seed(0)
    succ = torch.stack([torch.randperm(VOCAB, generator=g)[:branching] for _ in range(VOCAB)])
    probs = torch.tensor([0.6, 0.3, 0.1])
    out = torch.empty(n_tokens, dtype=torch.long)
    tok = 0
    choices = torch.multinomial(probs, n_tokens, replacement=True, generator=g)
    for i in range(n_tokens):
        tok = succ[tok, choices[i]].item()
        out[i] = tok
    return out


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD)
        self.c_proj = nn.Linear(N_EMBD, N_EMBD)
        self.c_proj.NANOGPT_SCALE_INIT = True

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
        q, k, v = (t.view(B, T, N_HEAD, C // N_HEAD).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(N_EMBD)
        self.attn = CausalSelfAttention()
        self.ln_2 = nn.LayerNorm(N_EMBD)
        self.mlp = nn.Sequential(nn.Linear(N_EMBD, 4 * N_EMBD), nn.GELU(), nn.Linear(4 * N_EMBD, N_EMBD))
        self.mlp[2].NANOGPT_SCALE_INIT = True

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TinyGPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, N_EMBD)
        self.wpe = nn.Embedding(CTX, N_EMBD)
        self.blocks = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD)
        self.lm_head = nn.Linear(N_EMBD, VOCAB, bias=False)
        self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            std = 0.02
            if getattr(module, "NANOGPT_SCALE_INIT", False):
                std *= (2 * N_LAYER) ** -0.5
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        T = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for blk in self.blocks:
            x = blk(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))
        return logits, loss


data = make_markov_corpus(24000)
train, val = data[:21600], data[21600:]


def get_batch(split, bs=32):
    src = train if split == "train" else val
    ix = torch.randint(len(src) - CTX - 1, (bs,))
    x = torch.stack([src[i:i + CTX] for i in ix])
    y = torch.stack([src[i + 1:i + 1 + CTX] for i in ix])
    return x, y


model = TinyGPT()
opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
max_iters, warmup = 250, 25
print(f"uniform loss would be {math.log(VOCAB):.3f}; chain entropy ~{-(0.6*math.log(0.6)+0.3*math.log(0.3)+0.1*math.log(0.1)):.3f}")
for it in range(max_iters + 1):
    lr = 3e-3 * min(1.0, (it + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * it / max_iters))
    for g in opt.param_groups:
        g["lr"] = lr
    xb, yb = get_batch("train")
    _, loss = model(xb, yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if it % 50 == 0:
        with torch.no_grad():
            _, vl = model(*get_batch("val", 128))
        print(f"iter {it:3d} lr {lr:.2e} train_loss {loss.item():.4f} val_loss {vl.item():.4f}")
