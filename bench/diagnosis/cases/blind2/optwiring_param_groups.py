# source: https://github.com/zjunlp/HVPNeT/issues/5
# expect: params-not-in-optimizer
# category: classification
# bug: discriminative-LR param groups list the encoder (tiny LR) and the embeddings but leave out the new classifier head, which is never updated
import torch
import torch.nn as nn

torch.manual_seed(15)

VOCAB, T, N_LABELS = 50, 10, 4


class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = nn.Embedding(VOCAB, 48)
        self.encoder = nn.GRU(48, 48, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(96, N_LABELS)

    def forward(self, ids):
        h, _ = self.encoder(self.embeddings(ids))
        return self.classifier(self.dropout(h.max(1).values))


def make_batch(bs):
    ids = torch.randint(4, VOCAB, (bs, T))
    labels = torch.randint(0, N_LABELS, (bs,))
    pos = torch.randint(0, T, (bs,))
    ids[torch.arange(bs), pos] = labels  # the label's cue token sits somewhere in the sentence
    return ids, labels


model = TextClassifier()
optimizer = torch.optim.AdamW(
    [
        {"params": model.embeddings.parameters(), "lr": 5e-5},
        {"params": model.encoder.parameters(), "lr": 5e-5},
    ],
    lr=1e-3,
    weight_decay=0.01,
)
criterion = nn.CrossEntropyLoss()

model.train()
for step in range(300):
    ids, labels = make_batch(32)
    logits = model(ids)
    loss = criterion(logits, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 30 == 0 or step == 299:
        acc = (logits.argmax(-1) == labels).float().mean().item()
        print(f"step {step}: loss={loss.item():.4f} acc={acc:.2f}")
