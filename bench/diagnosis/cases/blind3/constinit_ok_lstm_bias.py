# source: https://github.com/coetaur0/ESIM/issues/2
# expect: healthy
# category: sequence
# bug: none; LSTM biases set to constants (forget-gate bias 1.0) and LayerNorm weight to ones, weights orthogonal/xavier - legitimate constant init of biases
import torch
import torch.nn as nn

torch.manual_seed(11)

T, B, F_IN, H = 20, 32, 6, 48


def make_data(n):
    x = torch.randn(T, n, F_IN)
    score = x[:5, :, 0].sum(0) - x[-5:, :, 1].sum(0)
    y = torch.bucketize(score, torch.tensor([-1.5, 1.5]))
    return x, y


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(F_IN, H)
        self.norm = nn.LayerNorm(H)
        self.head = nn.Linear(H, 3)
        for name, p in self.rnn.named_parameters():
            if "weight_ih" in name:
                nn.init.xavier_uniform_(p)
            elif "weight_hh" in name:
                nn.init.orthogonal_(p)
            elif "bias" in name:
                nn.init.constant_(p, 0.0)
                p.data[H:2 * H] = 1.0
        nn.init.constant_(self.norm.weight, 1.0)
        nn.init.constant_(self.head.bias, 0.0)

    def forward(self, x):
        _, (h, _) = self.rnn(x)
        return self.head(self.norm(h[-1]))


x, y = make_data(640)
model = Model()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for epoch in range(12):
    perm = torch.randperm(640)
    tot = 0.0
    for i in range(0, 640, B):
        idx = perm[i:i + B]
        loss = nn.functional.cross_entropy(model(x[:, idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        tot += loss.item()
    print(f"epoch {epoch} loss {tot / 20:.4f}")
