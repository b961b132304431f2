# source: https://github.com/d2l-ai/d2l-en/issues/1093
# expect: train-in-eval-mode
# category: tabular
# bug: a sanity-check validate() at the start calls model.eval() and nothing switches back, so every epoch trains with BatchNorm on its initial running stats and dropout off
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(20)
n, d = 3000, 12
raw = torch.randn(n, d) * 4 + 12            # raw sensor readings, not standardised
logit = (raw[:, 0] - 12) / 4 - (raw[:, 3] - 12) / 4 + 0.5 * ((raw[:, 5] - 12) / 4) ** 2
label = (logit > 0.5).long()
tr_x, tr_y, va_x, va_y = raw[:2500], label[:2500], raw[2500:], label[2500:]

model = nn.Sequential(
    nn.BatchNorm1d(d),
    nn.Linear(d, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2),
    nn.Linear(64, 2),
)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def validate():
    model.eval()
    with torch.no_grad():
        out = model(va_x)
        return F.cross_entropy(out, va_y).item(), (out.argmax(1) == va_y).float().mean().item()


print("before training: val loss %.3f acc %.3f" % validate())
for epoch in range(8):
    perm = torch.randperm(2500)
    running = 0.0
    for i in range(0, 2500, 64):
        idx = perm[i:i + 64]
        loss = F.cross_entropy(model(tr_x[idx]), tr_y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        running += loss.item()
    vl, va = validate()
    print(f"epoch {epoch} train loss {running / 40:.3f} val loss {vl:.3f} val acc {va:.3f}")
