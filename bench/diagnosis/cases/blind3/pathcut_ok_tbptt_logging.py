# source: https://github.com/pytorch/pytorch/issues/2384
# expect: healthy
# category: lm
# bug: truncated BPTT detaches the LSTM state between chunks (time-first), .item()/float() only feed the log and argmax only the accuracy; every layer still gets its gradient
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(13)
VOCAB, CHUNK, BATCH = 16, 20, 32

# a long token stream per batch column made of a repeated random motif with noise
motif = torch.randint(0, VOCAB, (7,))
stream = motif.repeat(200)[: 1400].unsqueeze(1).repeat(1, BATCH)          # (T, B) time-first
for b in range(BATCH):
    stream[:, b] = torch.roll(stream[:, b], shifts=b)
noise = torch.rand_like(stream, dtype=torch.float) < 0.05
stream[noise] = torch.randint(0, VOCAB, (int(noise.sum()),))


class CharLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 32)
        self.lstm = nn.LSTM(32, 64)
        self.out = nn.Linear(64, VOCAB)

    def forward(self, x, state):
        h, state = self.lstm(self.emb(x), state)
        return self.out(h), state


model = CharLSTM()
opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
state = None
running = None
step = 0
for epoch in range(4):
    for t in range(0, stream.size(0) - CHUNK - 1, CHUNK):
        x = stream[t:t + CHUNK]
        y = stream[t + 1:t + CHUNK + 1]
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.9 * running + 0.1 * float(loss)
        if step % 40 == 0:
            acc = (logits.argmax(-1) == y).float().mean().item()
            print(f"epoch {epoch} step {step:3d}  loss {running:.4f}  next-token acc {acc:.3f}")
        step += 1
    state = None
print(f"final running loss {running:.4f}")
