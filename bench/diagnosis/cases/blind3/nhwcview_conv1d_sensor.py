# source: https://z.id.vn/difference-between-the-expected-input-tensor-order-for-lstm-and-conv1d-2
# expect: layout-scrambled
# category: sequence
# bug: accelerometer windows are (batch, time, channels); the segmentation model's forward does x.reshape(B, C, T) for Conv1d instead of x.permute(0, 2, 1)
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(44)

N, T, C, K = 800, 60, 6, 4   # K: rest, walk, run, jump


def make_recordings():
    x = 0.3 * torch.randn(N, T, C)
    y = torch.zeros(N, T, dtype=torch.long)
    for i in range(N):
        start = 0
        while start < T:
            length = int(torch.randint(8, 20, (1,)))
            act = int(torch.randint(0, K, (1,)))
            y[i, start:start + length] = act
            if act > 0:
                x[i, start:start + length, act - 1] += 1.5
                x[i, start:start + length, act + 2] -= 1.0
            start += length
    return x, y


class SegNet1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(C, 32, 5, padding=2)
        self.conv2 = nn.Conv1d(32, 32, 5, padding=2)
        self.out = nn.Conv1d(32, K, 1)

    def forward(self, x):
        B, T_, C_ = x.shape
        x = x.reshape(B, C_, T_)
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.out(x)                      # (B, K, T)


X, Y = make_recordings()
model = SegNet1d()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for step in range(300):
    idx = torch.randint(0, N, (32,))
    logits = model(X[idx])
    loss = F.cross_entropy(logits, Y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 50 == 0 or step == 299:
        with torch.no_grad():
            acc = (model(X).argmax(1) == Y).float().mean().item()
        print(f"step {step} loss {loss.item():.3f} frame-acc {acc:.3f}")
