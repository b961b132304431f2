# source: https://github.com/hassony2/kinetics_i3d_pytorch/issues/6
# expect: over-regularization
# category: classification
# bug: a TensorFlow keep_prob of 0.9 ported as nn.Dropout(0.9); PyTorch's p is the drop probability, so 90% of every hidden layer is zeroed in training
import torch
import torch.nn as nn

torch.manual_seed(22)

N_CLASSES = 6
X = torch.randn(3000, 30)
W = torch.randn(30, N_CLASSES)
Y = (X @ W + 0.5 * torch.randn(3000, N_CLASSES)).argmax(1)
X_tr, Y_tr, X_te, Y_te = X[:2500], Y[:2500], X[2500:], Y[2500:]

keep_prob = 0.9


class Classifier(nn.Module):
    def __init__(self, d_in=30, hidden=128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(keep_prob),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(keep_prob),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(keep_prob),
            nn.Linear(hidden, N_CLASSES),
        )

    def forward(self, x):
        return self.net(x)


def train(model, steps=300, bs=64):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        model.train()
        idx = torch.randint(0, len(X_tr), (bs,))
        loss = loss_fn(model(X_tr[idx]), Y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 30 == 0:
            model.eval()
            with torch.no_grad():
                acc = (model(X_te).argmax(1) == Y_te).float().mean().item()
            print(f"step {step:3d} loss {loss.item():.4f} test acc {acc:.3f}")


train(Classifier())
