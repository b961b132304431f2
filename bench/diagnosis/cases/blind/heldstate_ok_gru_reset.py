# source: https://github.com/ndrplz/ConvLSTM_pytorch/issues/21
# expect: healthy
# category: sequence
# bug: none - a batch-first GRU whose hidden state is stored on the model but reset to zeros at the start of every batch, so no graph is carried between steps
import torch
import torch.nn as nn

torch.manual_seed(13)


class GRURegressor(nn.Module):
    def __init__(self, n_in=4, n_hid=32):
        super().__init__()
        self.n_hid = n_hid
        self.gru = nn.GRU(n_in, n_hid, batch_first=True)
        self.fc = nn.Linear(n_hid, 1)
        self.hidden = None

    def init_hidden(self, bsz):
        self.hidden = torch.zeros(1, bsz, self.n_hid)

    def forward(self, x):
        out, self.hidden = self.gru(x, self.hidden)
        return self.fc(out[:, -1]).squeeze(-1)


X = torch.randn(2400, 15, 4)
y = X[:, :, 0].sum(1) * 0.3 - X[:, -5:, 1].mean(1) + 0.05 * torch.randn(2400)
ds = torch.utils.data.TensorDataset(X, y)
loader = torch.utils.data.DataLoader(ds, batch_size=40, shuffle=True)

model = GRURegressor()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
crit = nn.MSELoss()

step = 0
for epoch in range(4):
    for xb, yb in loader:
        model.init_hidden(xb.size(0))
        loss = crit(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 30 == 0:
            print(f"epoch {epoch} step {step:3d} mse {loss.item():.4f}")
        step += 1
print(f"final mse {loss.item():.4f}")
