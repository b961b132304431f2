# source: https://github.com/InseeFrLab/torchTextClassifiers/pull/92
# expect: padding-mask-inverted
# category: sequence
# bug: the tokenizer-style attention mask (True = real token) is passed as src_key_padding_mask, whose True means "ignore this key": every query attends only to the padding (or to nothing when a sequence has none), so the [CLS] read-out never sees the tokens
"""Padded text classification with nn.TransformerEncoder (batch_first=True), [CLS] read-out.

Label: does token 3 occur more often than token 4 in the sequence?  The collate function returns
a Hugging Face-style batch: input_ids, attention_mask (True on [CLS] and real tokens), labels.
"""
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

torch.manual_seed(0)

PAD, CLS, VOCAB, MAXLEN, D = 0, 1, 10, 17, 32


class CountData(Dataset):
    def __init__(self, n):
        self.items = []
        for _ in range(n):
            length = int(torch.randint(5, MAXLEN, ()).item())
            toks = torch.randint(2, VOCAB, (length,))
            label = int((toks == 3).sum() > (toks == 4).sum())
            self.items.append((torch.cat([torch.tensor([CLS]), toks]), label))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def collate(batch):
    input_ids = torch.full((len(batch), MAXLEN), PAD)
    attention_mask = torch.zeros(len(batch), MAXLEN, dtype=torch.bool)
    for i, (toks, _) in enumerate(batch):
        input_ids[i, :len(toks)] = toks
        attention_mask[i, :len(toks)] = True
    labels = torch.tensor([lab for _, lab in batch])
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, D, padding_idx=PAD)
        self.pos = nn.Embedding(MAXLEN, D)
        layer = nn.TransformerEncoderLayer(D, 4, 64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(D, 2)

    def forward(self, input_ids, attention_mask):
        h = self.emb(input_ids) + self.pos(torch.arange(input_ids.size(1)))
        h = self.encoder(h, src_key_padding_mask=attention_mask)
        return self.head(h[:, 0])                 # [CLS]


loader = DataLoader(CountData(2400), batch_size=32, shuffle=True, collate_fn=collate)
model = Classifier()
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
criterion = nn.CrossEntropyLoss()

for epoch in range(2):
    model.train()
    for step, batch in enumerate(loader):
        logits = model(batch["input_ids"], batch["attention_mask"])
        loss = criterion(logits, batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 15 == 0:
            acc = (logits.argmax(1) == batch["labels"]).float().mean().item()
            print(f"epoch {epoch} step {step:2d} loss {loss.item():.4f} acc {acc:.2f}")
