# source: https://github.com/hyunwoongko/transformer/issues/15 and https://github.com/bentrevett/pytorch-seq2seq/issues/148 (why x.view(batch, seq_len, heads, d).transpose(1, 2) cannot be replaced by x.view(batch, heads, seq_len, d)); same bug class as https://github.com/jsbaan/transformer-from-scratch/pull/6
# expect: layout-scrambled
# category: sequence
# bug: split_heads() reshapes (B, T, d_model) straight to (B, heads, T, d_head) with reshape instead of view(B, T, heads, d_head).transpose(1, 2); each head's "token" rows are cut from several real tokens, so attention compares the wrong positions and the duplicate-token tagger cannot learn the relation
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(41)

VOCAB, T = 16, 20


def batch(n):
    """Tag every token that occurs somewhere else in the same sequence."""
    x = torch.randint(0, VOCAB, (n, T))
    same = (x.unsqueeze(2) == x.unsqueeze(1)).sum(-1)          # includes itself
    return x, (same > 1).long()


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        assert d_model % n_heads == 0
        self.h, self.d_head = n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def split_heads(self, t):
        B, L, _ = t.shape
        return t.reshape(B, self.h, L, self.d_head)

    def merge_heads(self, t):
        B, _, L, _ = t.shape
        return t.transpose(1, 2).contiguous().view(B, L, self.h * self.d_head)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        att = F.softmax(q @ k.transpose(-2, -1) / self.d_head ** 0.5, dim=-1)
        return self.proj(self.merge_heads(att @ v))


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = MultiHeadSelfAttention(d, h)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class DupTagger(nn.Module):
    def __init__(self, d=64, h=4, layers=2):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.zeros(1, T, d))
        self.blocks = nn.Sequential(*[Block(d, h) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, 2)

    def forward(self, x):
        return self.head(self.ln(self.blocks(self.tok(x) + self.pos)))


model = DupTagger()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
val_x, val_y = batch(1000)
base = max(val_y.float().mean().item(), 1 - val_y.float().mean().item())
print(f"majority-class token accuracy {base:.3f}")

for step in range(1, 301):
    model.train()
    x, y = batch(64)
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(-1, 2), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0:
        model.eval()
        with torch.no_grad():
            acc = (model(val_x).argmax(-1) == val_y).float().mean().item()
        print(f"step {step}  loss {loss.item():.4f}  val token acc {acc:.3f}")
