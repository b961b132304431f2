# source: https://github.com/markhliu/DGAI/issues/7
# expect: layout-scrambled, targets-misaligned
# category: lm
# bug: to give cross_entropy its (B, V, T) layout the (B, T, V) logits are .view(B, V, T)'d instead of transposed, so the class scores of each position are scattered over other positions
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(17)
vocab_size = 24
T = 20
noise = torch.randint(0, vocab_size, (8000,)).tolist()
coin = (torch.rand(8000) < 0.7).tolist()
chars = [noise[0]]
# a bigram-ish source: with prob .7 the next char is (prev * 5 + 3) % vocab
for i in range(1, 8000):
    chars.append((chars[-1] * 5 + 3) % vocab_size if coin[i] else noise[i])
text = torch.tensor(chars)


class CharRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 32)
        self.lstm = nn.LSTM(32, 96, num_layers=1, batch_first=True)
        self.fc = nn.Linear(96, vocab_size)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.fc(out), state


model = CharRNN()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)

for step in range(300):
    starts = torch.randint(0, len(text) - T - 1, (32,))
    inputs = torch.stack([text[s:s + T] for s in starts])
    targets = torch.stack([text[s + 1:s + T + 1] for s in starts])
    output, _ = model(inputs)
    B = output.size(0)
    loss = F.cross_entropy(output.view(B, vocab_size, T), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 0 or step == 299:
        print("step", step, "loss", loss.item())
