# source: https://runebook.dev/en/docs/pytorch/generated/torch.tensor.softmax
# expect: batch-mixing
# category: classification
# bug: the classifier's forward ends in log_softmax over dim=0 (the batch) instead of the class axis, so each prediction is normalised against the other samples
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(10)
n_cls, d = 4, 10
centers = 2.0 * torch.randn(n_cls, d)
labels = torch.randint(0, n_cls, (3000,))
feats = centers[labels] + torch.randn(3000, d)
train_x, train_y = feats[:2500], labels[:2500]
val_x, val_y = feats[2500:], labels[2500:]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, n_cls))

    def forward(self, x):
        return F.log_softmax(self.body(x), dim=0)


net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
for step in range(300):
    idx = torch.randint(0, 2500, (50,))
    out = net(train_x[idx])
    loss = F.nll_loss(out, train_y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0:
        print(f"step {step} nll {loss.item():.4f}")

net.eval()
with torch.no_grad():
    # predict one sample at a time, as at inference
    preds = torch.stack([net(val_x[i:i + 1]).argmax(1)[0] for i in range(len(val_x))])
    print("val accuracy (one at a time):", (preds == val_y).float().mean().item())
    print("val accuracy (whole batch):", (net(val_x).argmax(1) == val_y).float().mean().item())
