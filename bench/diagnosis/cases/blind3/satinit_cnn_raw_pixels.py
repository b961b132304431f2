# source: https://ai.stackexchange.com/questions/11487/how-do-intermediate-layers-of-a-trained-neural-network-look-like
# expect: saturated-activations, unnormalized-inputs
# category: vision
# bug: uint8 pixel values 0..255 fed as float straight into a tanh CNN (no /255): every tanh saturates at +-1 and gradients are ~0
import torch
import torch.nn as nn
from torch.utils.data import Dataset, DataLoader

torch.manual_seed(21)


class BlobImages(Dataset):
    def __init__(self, n=768, size=16):
        self.size = size
        self.labels = torch.randint(0, 4, (n,))
        self.images = []
        for lab in self.labels.tolist():
            img = torch.randint(205, 226, (1, size, size), dtype=torch.uint8)
            r, c = (lab // 2) * 8 + 2, (lab % 2) * 8 + 2
            img[0, r:r + 4, c:c + 4] -= 12
            self.images.append(img)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i].float(), self.labels[i]


class TanhNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.Tanh(), nn.Linear(64, 4))

    def forward(self, x):
        return self.classifier(self.features(x))


loader = DataLoader(BlobImages(), batch_size=32, shuffle=True)
model = TanhNet()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

step = 0
for epoch in range(10):
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 40 == 0:
            print(f"step {step} loss {loss.item():.4f}")
        step += 1
print(f"step {step} loss {loss.item():.4f}")
