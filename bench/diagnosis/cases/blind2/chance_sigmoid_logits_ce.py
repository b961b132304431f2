# source: https://runebook.dev/en/docs/pytorch/generated/torch.nn.functional.sigmoid
# expect: activation-on-logits, double-softmax
# category: classification
# bug: the transformer text classifier squashes its class scores with torch.sigmoid before nn.CrossEntropyLoss, so every logit lies in (0, 1) and the loss cannot fall far below ln(C)
import torch
import torch.nn as nn

torch.manual_seed(35)

VOCAB, T, N_TOPICS = 60, 12, 5
# each topic has its own set of frequent words
topic_words = torch.stack([torch.randperm(VOCAB)[:8] for _ in range(N_TOPICS)])


def docs(n):
    topic = torch.randint(0, N_TOPICS, (n,))
    toks = torch.randint(0, VOCAB, (n, T))
    use_topic = torch.rand(n, T) < 0.5
    topical = topic_words[topic][torch.arange(n)[:, None], torch.randint(0, 8, (n, T))]
    return torch.where(use_topic, topical, toks), topic


class TopicClassifier(nn.Module):
    def __init__(self, d=32):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, d)
        layer = nn.TransformerEncoderLayer(d, 4, 64, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(d, N_TOPICS)

    def forward(self, toks):
        h = self.enc(self.emb(toks)).mean(1)
        return torch.sigmoid(self.head(h))


clf = TopicClassifier()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(clf.parameters(), lr=2e-3)

for step in range(250):
    toks, topic = docs(64)
    scores = clf(toks)
    loss = criterion(scores, topic)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 25 == 0 or step == 249:
        acc = (scores.argmax(1) == topic).float().mean().item()
        print(f"step {step:3d} loss {loss.item():.4f} acc {acc:.2f}")
