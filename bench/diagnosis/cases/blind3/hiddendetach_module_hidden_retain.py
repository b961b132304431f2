# source: https://github.com/pytorch/pytorch/issues/2769
# expect: state-not-detached
# category: lm
# bug: the LSTM keeps self.hidden between forward calls without detaching it; loss.backward(retain_graph=True) was added to silence the "backward through the graph a second time" error
import torch
import torch.nn as nn

torch.manual_seed(0)

text = "the quick brown fox jumps over the lazy dog " * 40
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
data = torch.tensor([stoi[c] for c in text])

BATCH = 4
SEQ = 20
VOCAB = len(chars)


class CharLSTM(nn.Module):
    def __init__(self, vocab, emb=16, hidden=64):
        super().__init__()
        self.hidden_size = hidden
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, vocab)
        self.hidden = self.init_hidden()

    def init_hidden(self):
        return (torch.zeros(1, BATCH, self.hidden_size), torch.zeros(1, BATCH, self.hidden_size))

    def forward(self, x):
        out, self.hidden = self.lstm(self.embed(x), self.hidden)
        return self.fc(out)


model = CharLSTM(VOCAB)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.005)

# split the text into BATCH parallel streams
stream_len = len(data) // BATCH
streams = data[: stream_len * BATCH].view(BATCH, stream_len)

step = 0
for epoch in range(8):
    for i in range(0, stream_len - SEQ - 1, SEQ):
        x = streams[:, i:i + SEQ]
        y = streams[:, i + 1:i + SEQ + 1]
        output = model(x)
        loss = criterion(output.reshape(-1, VOCAB), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward(retain_graph=True)
        optimizer.step()
        if step % 40 == 0:
            print("epoch", epoch, "step", step, "loss", loss.item())
        step += 1
print("final loss", loss.item())
