# source: https://github.com/tianzhi0549/CTPN/issues/62
# expect: symmetric-units, constant-output
# category: sequence
# bug: an init helper zeroes every weight matrix of the LSTM and the head, so the hidden state is 0 and no gradient ever flows
import torch
import torch.nn as nn

torch.manual_seed(1)

CFG = {"seq_len": 20, "n_feat": 6, "hidden": 48, "n_classes": 3, "lr": 2e-3, "steps": 250, "batch": 32}


def make_data(n, cfg):
    x = torch.randn(cfg["seq_len"], n, cfg["n_feat"])  # (T, B, F)
    score = x[:5, :, 0].sum(0) - x[-5:, :, 1].sum(0)
    y = torch.bucketize(score, torch.tensor([-1.5, 1.5]))
    return x, y


class SeqClassifier(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.rnn = nn.LSTM(cfg["n_feat"], cfg["hidden"])
        self.head = nn.Linear(cfg["hidden"], cfg["n_classes"])

    def forward(self, x):
        out, (h, c) = self.rnn(x)
        return self.head(h[-1])


def init_weights(module):
    for name, p in module.named_parameters():
        if "weight" in name:
            nn.init.zeros_(p)
        elif "bias" in name:
            nn.init.zeros_(p)


def train_one_epoch(model, opt, x, y, cfg):
    perm = torch.randperm(x.shape[1])
    total = 0.0
    nb = 0
    for i in range(0, x.shape[1], cfg["batch"]):
        idx = perm[i:i + cfg["batch"]]
        logits = model(x[:, idx])
        loss = nn.functional.cross_entropy(logits, y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
        nb += 1
    return total / nb


x_train, y_train = make_data(640, CFG)
model = SeqClassifier(CFG)
init_weights(model)
opt = torch.optim.Adam(model.parameters(), lr=CFG["lr"])

steps_per_epoch = 640 // CFG["batch"]
for epoch in range(CFG["steps"] // steps_per_epoch):
    avg = train_one_epoch(model, opt, x_train, y_train, CFG)
    if epoch % 2 == 0:
        print(f"epoch {epoch} loss {avg:.4f}")
print(f"final loss {avg:.4f}")
