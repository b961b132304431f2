# source: https://github.com/piergiaj/pytorch-i3d/issues/58
# expect: healthy
# category: classification
# bug: healthy - nn.Dropout(0.5) between wide hidden layers and CrossEntropyLoss(label_smoothing=0.1): ordinary regularisation, evaluated in eval mode
import torch
import torch.nn as nn

torch.manual_seed(28)

N_CLASSES = 6
X = torch.randn(3000, 30)
W = torch.randn(30, N_CLASSES)
Y = (X @ W + 0.5 * torch.randn(3000, N_CLASSES)).argmax(1)
X_tr, Y_tr, X_te, Y_te = X[:2500], Y[:2500], X[2500:], Y[2500:]

drop_p = 0.5

model = nn.Sequential(
    nn.Linear(30, 256), nn.ReLU(), nn.Dropout(drop_p),
    nn.Linear(256, 256), nn.ReLU(), nn.Dropout(drop_p),
    nn.Linear(256, N_CLASSES),
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)

for step in range(300):
    model.train()
    idx = torch.randint(0, len(X_tr), (64,))
    loss = loss_fn(model(X_tr[idx]), Y_tr[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 30 == 0:
        model.eval()
        with torch.no_grad():
            acc = (model(X_te).argmax(1) == Y_te).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} test acc {acc:.3f}")
