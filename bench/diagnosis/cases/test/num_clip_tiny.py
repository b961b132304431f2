# source: https://github.com/facebookresearch/detr/issues/198
# expect: clipping-every-step
# category: sequence
# bug: clip_grad_norm_ is called with max_norm=1e-4 while the gradient norms are around 1; every step is cut by four orders of magnitude, so with plain SGD each update has length lr * 1e-4 and the recurrent model never leaves its initial loss
import torch
import torch.nn as nn

torch.manual_seed(12)

T, B, F_IN, H = 20, 32, 4, 32


def batch():
    # sequence-first (T, B, F): predict the running sum of channel 0 at the last step
    x = torch.randn(T, B, F_IN)
    target = x[:, :, 0].sum(0, keepdim=False).unsqueeze(-1) / T ** 0.5
    return x, target


class SeqRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(F_IN, H)  # batch_first=False
        self.head = nn.Linear(H, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


model = SeqRegressor()
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
MAX_NORM = 1e-4

for step in range(250):
    x, target = batch()
    loss = nn.functional.mse_loss(model(x), target)
    opt.zero_grad()
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    opt.step()
    if step % 25 == 0:
        print(f"step {step:3d}  loss {loss.item():.4f}  grad norm before clip {norm.item():.3f}")
