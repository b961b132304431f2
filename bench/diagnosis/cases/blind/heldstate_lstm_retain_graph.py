# source: https://discuss.pytorch.org/t/runtimeerror-trying-to-backward-through-the-graph-a-second-time-but-the-buffers-have-already-been-freed-specify-retain-graph-true-when-calling-backward-the-first-time/6795
# expect: state-not-detached
# category: lm
# bug: a stateful word-level LSTM LM (batch_first) carries its (h, c) tuple from one BPTT chunk to the next without detaching it; retain_graph=True was added to get past "backward through the graph a second time"
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(8)

VOCAB, EMB, HID, BSZ, BPTT = 50, 32, 64, 16, 20


class WordLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, EMB)
        self.lstm = nn.LSTM(EMB, HID, num_layers=1, batch_first=True)
        self.decoder = nn.Linear(HID, VOCAB)

    def forward(self, x, hidden):
        out, hidden = self.lstm(self.embed(x), hidden)
        return self.decoder(out), hidden

    def init_hidden(self, bsz):
        return (torch.zeros(1, bsz, HID), torch.zeros(1, bsz, HID))


# one long token stream, split into BSZ parallel streams
stream = [0]
for _ in range(BSZ * 4000 - 1):
    stream.append((stream[-1] + 7) % VOCAB if torch.rand(1).item() < 0.8 else torch.randint(VOCAB, (1,)).item())
data = torch.tensor(stream).view(BSZ, -1)

model = WordLM()
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)


def train(epochs=1):
    model.train()
    hidden = model.init_hidden(BSZ)
    step = 0
    for epoch in range(epochs):
        for i in range(0, 200 * BPTT, BPTT):
            inputs = data[:, i:i + BPTT]
            targets = data[:, i + 1:i + 1 + BPTT]
            logits, hidden = model(inputs, hidden)
            loss = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
            optimizer.zero_grad()
            loss.backward(retain_graph=True)
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if step % 20 == 0:
                print(f"epoch {epoch} batch {step:3d} loss {loss.item():.4f}")
            step += 1


train()
