# source: https://github.com/guevara/read-it-later/issues/7328
# expect: saturated-activations, vanishing-gradients
# category: sequence
# bug: hand-written tanh RNN with W_hh = torch.randn(H, H) (std 1, H=64): the hidden state saturates at +-1 after one step, gradients through time vanish
import torch
import torch.nn.functional as F

torch.manual_seed(23)

B, T, D, H, C = 32, 15, 8, 64, 3


def get_batch():
    x = torch.randn(B, T, D)                      # batch-first
    y = (x[:, :3, :2].sum((1, 2)) > 0).long() + (x[:, :3, 2].sum(1) > 1.0).long()
    return x, y


W_xh = torch.randn(D, H, requires_grad=True)
W_hh = torch.randn(H, H, requires_grad=True)
b_h = torch.zeros(H, requires_grad=True)
W_hy = (torch.randn(H, C) * 0.1).requires_grad_()
b_y = torch.zeros(C, requires_grad=True)
params = [W_xh, W_hh, b_h, W_hy, b_y]


def rnn_forward(x):
    h = torch.zeros(x.size(0), H)
    for t in range(x.size(1)):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b_h)
    return h @ W_hy + b_y


opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
for it in range(300):
    x, y = get_batch()
    loss = F.cross_entropy(rnn_forward(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 50 == 0 or it == 299:
        print(f"iter {it} loss {loss.item():.4f}")
