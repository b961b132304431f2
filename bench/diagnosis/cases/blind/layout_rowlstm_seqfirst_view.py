# source: https://github.com/yunjey/pytorch-tutorial/issues/89
# expect: batch-mixing, layout-scrambled
# category: classification
# bug: a row-by-row image LSTM switched to batch_first=False feeds it images.view(rows, batch, cols) instead of images.permute(1, 0, 2), so each sequence is stitched from rows of several different images
import torch
import torch.nn as nn

torch.manual_seed(0)
ROWS, COLS, N_CLASSES = 14, 14, 4
batch_size = 40


def glyphs(n):
    """Tiny 14x14 'digits': each class is a bar in a different place/orientation, randomly jittered."""
    y = torch.randint(0, N_CLASSES, (n,))
    x = 0.15 * torch.randn(n, ROWS, COLS)
    off = torch.randint(-2, 3, (n,))
    for i in range(n):
        o = int(off[i])
        if y[i] == 0:
            x[i, 3 + o:5 + o, 2:12] += 1.0
        elif y[i] == 1:
            x[i, 9 + o:11 + o, 2:12] += 1.0
        elif y[i] == 2:
            x[i, 2:12, 3 + o:5 + o] += 1.0
        else:
            x[i, 2:12, 9 + o:11 + o] += 1.0
    return x, y


class RowLSTM(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.lstm = nn.LSTM(COLS, hidden, num_layers=1)
        self.fc = nn.Linear(hidden, N_CLASSES)

    def forward(self, images):
        seq = images.view(ROWS, images.size(0), COLS)
        out, _ = self.lstm(seq)
        return self.fc(out[-1])


train_x, train_y = glyphs(4000)
test_x, test_y = glyphs(500)
model = RowLSTM()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.005)

num_epochs = 3
for epoch in range(num_epochs):
    perm = torch.randperm(len(train_x))
    for i in range(0, len(train_x), batch_size):
        idx = perm[i:i + batch_size]
        outputs = model(train_x[idx])
        loss = criterion(outputs, train_y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (i // batch_size) % 25 == 0:
            print(f"Epoch [{epoch + 1}/{num_epochs}], Step [{i // batch_size}/{len(train_x) // batch_size}], Loss: {loss.item():.4f}")
    with torch.no_grad():
        acc = (model(test_x).argmax(1) == test_y).float().mean().item()
    print(f"Test accuracy after epoch {epoch + 1}: {acc * 100:.1f}%")
