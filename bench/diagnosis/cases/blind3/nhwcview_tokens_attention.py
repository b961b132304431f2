# source: https://github.com/pytorch/vision/pull/7624
# expect: layout-scrambled
# category: vision
# bug: a conv stem's (B, C, H, W) feature map is turned into attention tokens with .view(B, H*W, C) instead of .flatten(2).transpose(1, 2); each token mixes positions and channels
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(46)

cfg = {"size": 8, "dim": 32, "heads": 4, "n_classes": 3, "batch": 32, "steps": 150, "lr": 2e-3}


def synth(bs, size):
    # per-cell labels: each cell of an 8x8 grid is background(0), a bright dot(1) or a dark dot(2)
    labels = torch.randint(0, 3, (bs, size, size))
    labels[torch.rand(bs, size, size) < 0.5] = 0
    img = 0.3 * torch.randn(bs, 1, size, size)
    img[:, 0] += (labels == 1).float() * 1.0 - (labels == 2).float() * 1.0
    return img, labels


class ConvAttnTagger(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c["dim"], 3, padding=1), nn.GELU(),
                                  nn.Conv2d(c["dim"], c["dim"], 1))
        self.pos = nn.Parameter(0.02 * torch.randn(1, c["size"] ** 2, c["dim"]))
        self.attn = nn.TransformerEncoderLayer(c["dim"], c["heads"], 2 * c["dim"], dropout=0.0, batch_first=True)
        self.head = nn.Linear(c["dim"], c["n_classes"])

    def forward(self, img):
        f = self.stem(img)
        B, C, H, W = f.shape
        tokens = f.view(B, H * W, C)
        tokens = self.attn(tokens + self.pos)
        return self.head(tokens)                          # (B, H*W, n_classes)


def step_fn(model, opt):
    img, lab = synth(cfg["batch"], cfg["size"])
    logits = model(img)
    loss = F.cross_entropy(logits.reshape(-1, cfg["n_classes"]), lab.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    acc = (logits.argmax(-1) == lab.reshape(lab.size(0), -1)).float().mean().item()
    return loss.item(), acc


model = ConvAttnTagger(cfg)
opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
for step in range(cfg["steps"]):
    loss, acc = step_fn(model, opt)
    if step % 25 == 0 or step == cfg["steps"] - 1:
        print(f"step {step:3d} loss {loss:.4f} cell-acc {acc:.3f}")
