# source: https://github.com/facebookresearch/ParlAI/pull/4384
# expect: lr-too-low
# category: lm
# bug: linear warmup over warmup_steps=20000 (copied from a large-scale config) in a 250-step run: the LR never leaves the warmup ramp and stays ~100x below its target
import math
import torch
import torch.nn as nn

torch.manual_seed(24)

VOCAB, CTX = 24, 16
# toy corpus: a noisy repeating grammar so the next token is predictable
pattern = torch.randint(0, VOCAB, (7,))
corpus = pattern.repeat(600)
noise = torch.rand(len(corpus)) < 0.05
corpus[noise] = torch.randint(0, VOCAB, (int(noise.sum()),))


def get_batch(bs):
    starts = torch.randint(0, len(corpus) - CTX - 1, (bs,))
    x = torch.stack([corpus[s:s + CTX] for s in starts])
    y = torch.stack([corpus[s + 1:s + CTX + 1] for s in starts])
    return x, y


class TinyGPT(nn.Module):
    def __init__(self, d=48, heads=4, layers=2):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Embedding(CTX, d)
        block = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(CTX))

    def forward(self, idx):
        h = self.tok(idx) + self.pos(torch.arange(idx.size(1)))
        h = self.blocks(h, mask=self.mask, is_causal=True)
        return self.head(self.ln(h))


cfg = dict(lr=1e-3, warmup_steps=20000, total_steps=250, batch_size=32)
model = TinyGPT()
optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], betas=(0.9, 0.95), weight_decay=0.1)


def lr_lambda(step):
    if step < cfg["warmup_steps"]:
        return (step + 1) / cfg["warmup_steps"]
    progress = (step - cfg["warmup_steps"]) / max(1, cfg["total_steps"] - cfg["warmup_steps"])
    return 0.5 * (1 + math.cos(math.pi * progress))


scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)

for step in range(cfg["total_steps"]):
    x, y = get_batch(cfg["batch_size"])
    logits = model(x)
    loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    if step % 30 == 0 or step == cfg["total_steps"] - 1:
        print(f"step {step:4d} | loss {loss.item():.4f} | lr {scheduler.get_last_lr()[0]:.2e}")
