# source: https://github.com/cysmith/neural-style-tf/issues/45
# expect: loss-imbalance, metric-competing-losses
# category: vision
# bug: neural style transfer on a frozen random conv net with style_weight=1e6 on Gram matrices that are not normalised by the feature count: the style term is ~1e9x the content term and the content image is never reproduced (content loss stays at its start)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(19)

H = W = 32
yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
content_img = torch.stack([(xx > 0).float(), (yy > 0).float(), ((xx ** 2 + yy ** 2) < 0.4).float()]).unsqueeze(0)
style_img = torch.stack([torch.sin(12 * xx), torch.cos(12 * yy), torch.sin(8 * (xx + yy))]).unsqueeze(0) * 0.5 + 0.5

features = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
    nn.MaxPool2d(2),
    nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
)
for p in features.parameters():
    p.requires_grad_(False)

STYLE_LAYERS = [1, 3, 6]
CONTENT_LAYER = 6


def extract(img):
    feats = {}
    h = img
    for i, layer in enumerate(features):
        h = layer(h)
        if i in STYLE_LAYERS or i == CONTENT_LAYER:
            feats[i] = h
    return feats


def gram(f):
    b, c, h, w = f.shape
    f = f.view(c, h * w)
    return f @ f.t()


with torch.no_grad():
    content_target = extract(content_img)[CONTENT_LAYER]
    style_targets = {i: gram(f) for i, f in extract(style_img).items() if i in STYLE_LAYERS}

image = torch.rand_like(content_img).requires_grad_(True)
optimizer = torch.optim.Adam([image], lr=0.02)
content_weight, style_weight = 1.0, 1e6

for step in range(1, 301):
    feats = extract(image)
    content_loss = F.mse_loss(feats[CONTENT_LAYER], content_target)
    style_loss = sum(F.mse_loss(gram(feats[i]), style_targets[i]) for i in STYLE_LAYERS)
    loss = content_weight * content_loss + style_weight * style_loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        image.clamp_(0, 1)
    if step == 1 or step % 30 == 0:
        pix = F.mse_loss(image, content_img).item()
        print(f"step {step:3d} content {content_loss.item():.5f} style {style_loss.item():.4g} pixel dist to content {pix:.4f}")
