# source: https://github.com/yudi-mars/daisyRec/pull/15
# expect: double-sigmoid
# category: sequence
# bug: the LSTM classifier returns torch.sigmoid(logit) and the training loss is BCEWithLogitsLoss, which applies a second sigmoid
import torch
import torch.nn as nn

torch.manual_seed(1)

SEQ_LEN, N_FEAT = 20, 4
N = 1024


def make_data(n):
    x = torch.randn(n, SEQ_LEN, N_FEAT)
    # positive when the first channel's running mean over the second half is positive
    y = (x[:, SEQ_LEN // 2:, 0].mean(1) + 0.5 * x[:, :, 1].mean(1) > 0).float()
    return x, y


x_train, y_train = make_data(N)


class SequenceClassifier(nn.Module):
    def __init__(self, n_feat, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(n_feat, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        score = self.out(h[-1]).squeeze(-1)
        return torch.sigmoid(score)


def train(model, epochs=12, batch_size=64):
    loss_fn = nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    step = 0
    for epoch in range(epochs):
        perm = torch.randperm(N)
        for i in range(0, N, batch_size):
            idx = perm[i:i + batch_size]
            xb, yb = x_train[idx], y_train[idx]
            pred = model(xb)
            loss = loss_fn(pred, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 25 == 0:
                acc = ((pred > 0.5).float() == yb).float().mean().item()
                print(f"epoch {epoch} step {step}: loss={loss.item():.4f} acc={acc:.2f}")
            step += 1


train(SequenceClassifier(N_FEAT))
