# source: https://github.com/afiaka87/glide-finetune/issues/5
# expect: low-precision-params, nonfinite-backward
# category: classification
# bug: the model is cast to float16 with .half() and trained with Adam's default eps=1e-8, which is 0 in float16; any parameter whose gradient is exactly zero (embedding rows of tokens absent from the batch) gets 0/0 = NaN on its first step and the NaN spreads to the whole model
"""Bag-of-embeddings intent classifier trained in half precision."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

V, E, C = 500, 32, 4
topic_words = torch.randint(0, V, (C, 10))


def make_batch(n=32, length=12):
    y = torch.randint(0, C, (n,))
    common = torch.randint(0, 60, (n, length))          # frequent words only
    keep = torch.rand(n, length) < 0.5
    tok = torch.where(keep, common, topic_words[y][:, torch.randint(0, 10, (length,))])
    return tok, y


class BagClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.EmbeddingBag(V, E, mode="mean")
        self.fc = nn.Linear(E, C)

    def forward(self, tok):
        return self.fc(self.emb(tok))


model = BagClassifier().half()                      # BUG: float16 weights, no float32 master copy
opt = torch.optim.Adam(model.parameters(), lr=1e-3)  # eps=1e-8 underflows to 0 in float16

for step in range(200):
    tok, y = make_batch()
    logits = model(tok)
    loss = F.cross_entropy(logits.float(), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 20 == 0 or step == 199:
        nan_rows = torch.isnan(model.emb.weight).any(1).sum().item()
        print(f"step {step:3d}  loss {loss.item():.4f}  embedding rows with NaN {nan_rows}")
