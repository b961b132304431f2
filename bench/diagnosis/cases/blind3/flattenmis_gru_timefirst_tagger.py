# source: https://github.com/karpathy/ng-video-lecture/pull/10
# expect: targets-misaligned, layout-scrambled
# category: sequence
# bug: the GRU runs sequence-first so its logits are (T, B, C), but the tags stay (B, T); both are .view(-1)'d and each prediction is scored against another sample's tag
import torch
import torch.nn as nn

torch.manual_seed(2)

n_words, n_tags = 30, 5
seq_len, batch_size = 15, 24
word2tag = torch.randint(0, n_tags, (n_words,))

sentences = torch.randint(0, n_words, (960, seq_len))      # (N, T)
tags = word2tag[sentences]                                  # (N, T)
tags[:, 1:] = torch.where(torch.rand(960, seq_len - 1) < 0.2, word2tag[sentences[:, :-1]], tags[:, 1:])

embedding = nn.Embedding(n_words, 32)
gru = nn.GRU(32, 64)                 # expects (T, B, F)
classifier = nn.Linear(64, n_tags)
params = list(embedding.parameters()) + list(gru.parameters()) + list(classifier.parameters())
optimizer = torch.optim.SGD(params, lr=0.5)
criterion = nn.CrossEntropyLoss()

for epoch in range(10):
    running = 0
    for i in range(0, 960, batch_size):
        words = sentences[i:i + batch_size]
        gold = tags[i:i + batch_size]
        x = embedding(words.t())          # (T, B, 32)
        out, h = gru(x)                   # (T, B, 64)
        scores = classifier(out)          # (T, B, n_tags)
        loss = criterion(scores.view(-1, n_tags), gold.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item()
    print("epoch", epoch, "avg loss", running / (960 // batch_size))
