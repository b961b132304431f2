# source: https://github.com/tiny-dnn/tiny-dnn/issues/410
# expect: nonfinite-forward, loss-nonfinite-region
# category: classification
# bug: hand-written multi-label BCE on sigmoid outputs: once a logit passes ~17 sigmoid rounds to 1.0 and (1-y)*log(1-p) is 0*-inf = NaN
import torch
import torch.nn as nn

torch.manual_seed(0)

N_TAGS = 6
N_FEAT = 20

# synthetic multi-label "document tagging" data: each tag fires on a linear rule
X = torch.randn(2048, N_FEAT)
W_true = torch.randn(N_FEAT, N_TAGS) * 2.0
Y = (X @ W_true > 0).float()


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(N_FEAT, 128), nn.ReLU(),
            nn.Linear(128, 128), nn.ReLU(),
        )
        self.out = nn.Linear(128, N_TAGS)

    def forward(self, x):
        return torch.sigmoid(self.out(self.body(x)))


def bce(p, y):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


model = Tagger()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)

batch = 64
step = 0
for epoch in range(12):
    perm = torch.randperm(len(X))
    for i in range(0, len(X), batch):
        idx = perm[i:i + batch]
        probs = model(X[idx])
        loss = bce(probs, Y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")
        step += 1
        if step >= 380:
            break
    if step >= 380:
        break
print("final loss", loss.item())
