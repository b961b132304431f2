# source: https://theneuralbase.com/pytorch/learn/intermediate/input-shape-for-rnns-seq-batch-features/
# expect: healthy
# category: sequence
# bug: none; a time-first GRU tagger that transposes correctly, then reshape(-1, H) merges the adjacent batch and time axes for a per-step head and loss (legitimate reshapes)
import torch
import torch.nn as nn

torch.manual_seed(51)

T, B, F_IN, H, K = 25, 32, 5, 48, 3


def make_batch():
    x = torch.randn(B, T, F_IN)                 # the loader gives batch-first
    tags = (x[..., 0] > 0.5).long() + (x[..., 0] + x[..., 1] > 1.5).long()
    tags = torch.roll(tags, 1, dims=1)          # tag at t depends on input at t-1
    tags[:, 0] = 0
    return x, tags


class StepTagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(F_IN, H)              # time-first
        self.head = nn.Linear(H, K)

    def forward(self, x_bt):
        x_tb = x_bt.transpose(0, 1)             # (T, B, F)
        out, _ = self.gru(x_tb)                 # (T, B, H)
        out = out.transpose(0, 1).contiguous()  # (B, T, H)
        logits = self.head(out.reshape(-1, H))  # (B*T, K)
        return logits.view(x_bt.size(0), x_bt.size(1), K)


model = StepTagger()
opt = torch.optim.RMSprop(model.parameters(), lr=3e-3)
for it in range(250):
    x, tags = make_batch()
    logits = model(x)
    loss = nn.functional.cross_entropy(logits.reshape(-1, K), tags.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 50 == 0 or it == 249:
        acc = (logits.argmax(-1) == tags).float().mean().item()
        print(f"it {it} loss {loss.item():.4f} acc {acc:.3f}")
