# source: https://pytorch.org/docs/stable/amp
# expect: healthy
# category: classification
# bug: none - CPU mixed precision done right: float32 weights and optimizer state, the forward under torch.autocast("cpu", bfloat16), the loss in float32, clip_grad_norm_(1.0) that only trims rare spikes
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(13)

N, D, C = 4096, 32, 8
W_true = torch.randn(D, C)
X = torch.randn(N, D)
y = (X @ W_true + 0.5 * torch.randn(N, C)).argmax(1)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(D, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU())
        self.head = nn.Linear(128, C)

    def forward(self, x):
        return self.head(self.body(x))


model = Classifier()  # parameters stay float32
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)

for epoch in range(5):
    perm = torch.randperm(N)
    clipped, steps = 0, 0
    for i in range(0, N, 128):
        idx = perm[i:i + 128]
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            logits = model(X[idx])
        loss = F.cross_entropy(logits.float(), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        clipped += int(norm > 1.0)
        steps += 1
        optimizer.step()
    print(f"epoch {epoch}  loss {loss.item():.4f}  clipped {clipped}/{steps}")
