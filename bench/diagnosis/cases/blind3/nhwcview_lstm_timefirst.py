# source: https://blog.youkuaiyun.com/qq_37840762/article/details/119382329
# expect: layout-scrambled, batch-mixing
# category: sequence
# bug: the batch arrives time-first (T, B, F) but the batch_first LSTM is fed x.view(B, T, F) instead of x.transpose(0, 1): steps of different samples are mixed
import torch
import torch.nn as nn

torch.manual_seed(41)

SEQ_LEN, N_FEAT, HIDDEN, N_CLASSES = 30, 4, 64, 3


def make_split(n):
    x = torch.randn(SEQ_LEN, n, N_FEAT)          # stored time-first, like the old pipeline
    trend = torch.linspace(-1, 1, SEQ_LEN).view(SEQ_LEN, 1)
    y = torch.randint(0, N_CLASSES, (n,))
    x[:, :, 0] += (y.float() - 1.0) * 1.5 * trend
    return x, y


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(N_FEAT, HIDDEN, batch_first=True)
        self.fc = nn.Linear(HIDDEN, N_CLASSES)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def train(model, x_all, y_all, epochs=6, bs=48):
    opt = torch.optim.RMSprop(model.parameters(), lr=2e-3)
    n = x_all.size(1)
    for ep in range(epochs):
        perm = torch.randperm(n)
        run_loss, hits = 0.0, 0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            x = x_all[:, idx]
            y = y_all[idx]
            x = x.view(len(idx), SEQ_LEN, N_FEAT)
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            run_loss += loss.item() * len(idx)
            hits += (logits.argmax(1) == y).sum().item()
        print(f"epoch {ep}: loss {run_loss / n:.4f} acc {hits / n:.3f}")


x_train, y_train = make_split(960)
train(Tagger(), x_train, y_train)
