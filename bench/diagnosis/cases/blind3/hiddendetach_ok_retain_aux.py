# source: https://github.com/GBLin5566/toward-controlled-generation-of-text-pytorch/issues/9
# expect: healthy
# category: multi-loss
# bug: healthy; retain_graph=True used legitimately for two backward passes over the same step's graph (auxiliary loss then main loss), with the carried LSTM state detached after the step
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(15)

B, T, V = 8, 20, 10
stream = torch.arange(B * T * 40).view(B, -1) % 7 + torch.randint(0, 3, (B, T * 40)) % 2 * 3  # structured tokens
stream = stream % V


class TwoHeadLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 16)
        self.lstm = nn.LSTM(16, 48, batch_first=True)
        self.next_tok = nn.Linear(48, V)
        self.parity = nn.Linear(48, 2)

    def forward(self, x, state):
        out, state = self.lstm(self.emb(x), state)
        return self.next_tok(out), self.parity(out), state


model = TwoHeadLSTM()
opt = torch.optim.AdamW(model.parameters(), lr=4e-3)
state = None
step = 0
for epoch in range(6):
    state = None
    for s in range(0, stream.shape[1] - T - 1, T):
        x = stream[:, s:s + T]
        y = stream[:, s + 1:s + T + 1]
        logits, par, state = model(x, state)
        aux = F.cross_entropy(par.reshape(-1, 2), (x % 2).reshape(-1))
        main = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        (0.3 * aux).backward(retain_graph=True)
        main.backward()
        opt.step()
        state = tuple(t.detach() for t in state)
        if step % 40 == 0:
            print(f"step {step} main {main.item():.4f} aux {aux.item():.4f}")
        step += 1
print(f"final step {step} main {main.item():.4f} aux {aux.item():.4f}")
