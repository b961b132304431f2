# source: https://github.com/IntelLabs/distiller/issues/234
# expect: graph-break
# category: classification
# bug: for adversarial (FGM) training the token embeddings are re-made a leaf with .detach().requires_grad_() inside forward, so the embedding table never learns
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(101)
VOCAB, L, D = 40, 12, 8
CFG = {"lr": 3e-3, "steps": 250, "batch": 64, "eps": 0.05}


def make_batch(b):
    tok = torch.randint(2, VOCAB, (b, L))
    # label: does the sequence hold more tokens from the first half of the vocab than the second?
    low = (tok < (VOCAB + 2) // 2).sum(1)
    return tok, (low * 2 > L).long()


class TinyEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D)
        self.pos = nn.Parameter(torch.zeros(1, L, D))
        layer = nn.TransformerEncoderLayer(D, 2, 32, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.cls = nn.Linear(D, 2)
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, tok, delta=None):
        emb = self.embed(tok)
        emb = emb.detach().requires_grad_()
        self.last_emb = emb
        x = emb if delta is None else emb + delta
        h = self.encoder(x + self.pos)
        return self.cls(h.mean(1))


def fgm_step(model, opt, tok, y, eps):
    logits = model(tok)
    loss = F.cross_entropy(logits, y)
    grad_emb, = torch.autograd.grad(loss, model.last_emb, retain_graph=True)
    delta = eps * grad_emb / (grad_emb.norm(dim=-1, keepdim=True) + 1e-8)
    adv_loss = F.cross_entropy(model(tok, delta), y)
    opt.zero_grad()
    (loss + adv_loss).backward()
    opt.step()
    return loss.item(), (logits.argmax(1) == y).float().mean().item()


model = TinyEncoder()
opt = torch.optim.AdamW(model.parameters(), lr=CFG["lr"])
for step in range(CFG["steps"]):
    tok, y = make_batch(CFG["batch"])
    loss, acc = fgm_step(model, opt, tok, y, CFG["eps"])
    if step % 30 == 0 or step == CFG["steps"] - 1:
        print(f"step {step:3d}  clean loss {loss:.4f}  acc {acc:.2f}")
