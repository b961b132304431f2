# source: Jozefowicz, Zaremba & Sutskever (ICML 2015) "An Empirical Exploration of Recurrent Network Architectures" (forget-gate bias 1); PyTorch forum thread "LSTM forget gate bias initialization" showing bias.data.fill_ on the forget slice
# expect: healthy
# category: sequence
# bug: none - constant fills only touch the LSTM biases (forget slice = 1, rest = 0) and the head bias; every weight matrix is Xavier/orthogonal random, so hidden units are distinct
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(2024)

T, HIDDEN, N_FEAT = 60, 64, 3


def sensor_batch(batch):
    """Time-first batch. Tag each step with whether the tank level (running sum of
    noisy in/out-flow readings) is currently above its starting level."""
    flow = torch.randn(T, batch, 1) * 0.5 + 0.05 * torch.randn(1, batch, 1)
    valve = (torch.rand(T, batch, 1) < 0.1).float()          # valve opening events drain the tank
    level = torch.cumsum(flow - 1.5 * valve, dim=0)
    noisy = flow + 0.3 * torch.randn_like(flow)
    x = torch.cat([noisy, valve, torch.linspace(0, 1, T).view(T, 1, 1).expand(T, batch, 1)], dim=2)
    y = (level > 0).float().squeeze(-1)                       # (T, B)
    return x, y


class LevelTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(N_FEAT, HIDDEN)                   # time-first
        self.out = nn.Linear(HIDDEN, 1)
        self.reset_parameters()

    def reset_parameters(self):
        H = HIDDEN
        for name, p in self.lstm.named_parameters():
            if "weight_ih" in name:
                for g in range(4):
                    nn.init.xavier_uniform_(p.data[g * H:(g + 1) * H])
            elif "weight_hh" in name:
                for g in range(4):
                    nn.init.orthogonal_(p.data[g * H:(g + 1) * H])
            elif "bias_ih" in name:
                p.data.fill_(0.0)
                p.data[H:2 * H].fill_(1.0)                   # gate order: i, f, g, o
            elif "bias_hh" in name:
                p.data.fill_(0.0)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.constant_(self.out.bias, 0.0)

    def forward(self, x):
        h, _ = self.lstm(x)
        return self.out(h).squeeze(-1)


model = LevelTagger()
opt = torch.optim.RMSprop(model.parameters(), lr=2e-3, alpha=0.95)
x_val, y_val = sensor_batch(512)
for step in range(1, 301):
    x, y = sensor_batch(64)
    logits = model(x)
    loss = F.binary_cross_entropy_with_logits(logits, y)
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    opt.step()
    if step % 50 == 0:
        with torch.no_grad():
            lv = model(x_val)
            acc = ((lv > 0).float() == y_val).float().mean().item()
            vloss = F.binary_cross_entropy_with_logits(lv, y_val).item()
        print(f"step {step:4d} train_loss {loss.item():.4f} val_loss {vloss:.4f} val_acc {acc:.3f}")
