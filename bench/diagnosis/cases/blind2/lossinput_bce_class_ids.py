# source: https://github.com/aharley/simple_bev/issues/64
# expect: target-out-of-range
# category: vision
# bug: a per-pixel segmentation map with class ids 0..3 is trained with BCEWithLogitsLoss on a single output channel, so targets of 2 and 3 lie outside [0, 1]
import torch
import torch.nn as nn

torch.manual_seed(3)

H = W = 16
N_IMG = 256


def make_scene(n):
    imgs = torch.zeros(n, 3, H, W)
    masks = torch.zeros(n, H, W)
    for i in range(n):
        for cls in (1, 2, 3):
            r, c = torch.randint(0, H - 5, (2,)).tolist()
            masks[i, r:r + 5, c:c + 5] = cls
    # each class paints its own colour, plus sensor noise
    palette = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    imgs = palette[masks.long()].permute(0, 3, 1, 2) + 0.3 * torch.randn(n, 3, H, W)
    return imgs, masks


images, masks = make_scene(N_IMG)

seg_net = nn.Sequential(
    nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
    nn.Conv2d(16, 1, 1),
)
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(seg_net.parameters(), lr=2e-3)

for step in range(200):
    idx = torch.randint(0, N_IMG, (16,))
    logits = seg_net(images[idx]).squeeze(1)
    loss = criterion(logits, masks[idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 20 == 0 or step == 199:
        print(f"step {step:3d} | seg loss {loss.item():.4f} | logit range [{logits.min().item():.1f}, {logits.max().item():.1f}]")
