# source: http://luxuff.cn/archives/reshape%E6%93%8D%E4%BD%9C%E5%AF%B9nchw%E6%A0%BC%E5%BC%8F%E7%9A%84%E5%9B%BE%E7%89%87%E6%95%B0%E6%8D%AE%E7%9A%84%E5%BD%B1%E5%93%8D
# expect: layout-scrambled, targets-misaligned
# category: vision
# bug: the pixel-wise loss helper flattens (B, C, H, W) logits with .reshape(-1, C) instead of permute(0, 2, 3, 1) first, so class scores are paired with the wrong pixels
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(42)

CFG = {"n_classes": 3, "size": 24, "batch": 16, "steps": 150, "lr": 2e-3, "wd": 1e-4}


def synth_batch(bs, size):
    img = 0.2 * torch.randn(bs, 1, size, size)
    mask = torch.zeros(bs, size, size, dtype=torch.long)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for b in range(bs):
        for cls, val in ((1, 1.0), (2, -1.0)):
            cy, cx = torch.randint(4, size - 4, (2,)).tolist()
            r = torch.randint(2, 5, (1,)).item()
            disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            img[b, 0][disk] += val
            mask[b][disk] = cls
    return img, mask


class TinySegNet(nn.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.enc = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        )
        self.cls = nn.Conv2d(32, n_classes, 1)

    def forward(self, x):
        return self.cls(self.enc(x))


def pixel_ce(logits, target):
    n_classes = logits.shape[1]
    return F.cross_entropy(logits.reshape(-1, n_classes), target.reshape(-1))


def pixel_acc(logits, target):
    return (logits.argmax(1) == target).float().mean().item()


def train_one_step(model, opt, cfg):
    img, mask = synth_batch(cfg["batch"], cfg["size"])
    logits = model(img)
    loss = pixel_ce(logits, mask)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), pixel_acc(logits, mask)


def main():
    model = TinySegNet(CFG["n_classes"])
    opt = torch.optim.AdamW(model.parameters(), lr=CFG["lr"], weight_decay=CFG["wd"])
    for step in range(CFG["steps"]):
        loss, acc = train_one_step(model, opt, CFG)
        if step % 25 == 0 or step == CFG["steps"] - 1:
            print(f"step {step:3d} loss {loss:.4f} pixel-acc {acc:.3f}")


if __name__ == "__main__":
    main()
