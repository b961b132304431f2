# source: https://discuss.pytorch.org/t/the-problematic-adam-stability-in-automatic-mixed-precision-training/137434
# expect: low-precision-params
# category: classification
# bug: the whole model is cast with .half() and trained with Adam directly on the float16 weights (no float32 master copy, no loss scaler); Adam's eps=1e-8 and the small squared gradients underflow to 0 in float16, so m / (sqrt(v) + eps) divides by zero and the weights become inf/NaN after the first steps
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(5)

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


model = Classifier().half()  # "halve the memory"
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

step = 0
for epoch in range(5):
    perm = torch.randperm(N)
    for i in range(0, N, 128):
        idx = perm[i:i + 128]
        xb, yb = X[idx].half(), y[idx]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step < 4:
            print(f"step {step}  loss {loss.item():.4f}")
        step += 1
    print(f"epoch {epoch}  loss {loss.item():.4f}")
