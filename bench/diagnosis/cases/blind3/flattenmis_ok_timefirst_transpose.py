# source: https://github.com/karpathy/ng-video-lecture/pull/10
# expect: healthy
# category: sequence
# bug: none - a sequence-first GRU's (T, B, C) scores are transposed to (B, T, C) before reshape(-1, C), matching the (B, T) tags flattened with reshape(-1)
import torch
import torch.nn as nn

torch.manual_seed(2)
n_words, n_tags = 30, 5
seq_len, batch_size = 15, 24
word2tag = torch.randint(0, n_tags, (n_words,))
sentences = torch.randint(0, n_words, (960, seq_len))
tags = word2tag[sentences]
tags[:, 1:] = torch.where(torch.rand(960, seq_len - 1) < 0.2, word2tag[sentences[:, :-1]], tags[:, 1:])

embedding = nn.Embedding(n_words, 32)
gru = nn.GRU(32, 64)
classifier = nn.Linear(64, n_tags)
params = list(embedding.parameters()) + list(gru.parameters()) + list(classifier.parameters())
optimizer = torch.optim.SGD(params, lr=0.5)
criterion = nn.CrossEntropyLoss()

for epoch in range(10):
    running = 0
    for i in range(0, 960, batch_size):
        words = sentences[i:i + batch_size]
        gold = tags[i:i + batch_size]
        out, h = gru(embedding(words.t()))           # (T, B, 64)
        scores = classifier(out).transpose(0, 1)      # (B, T, n_tags)
        loss = criterion(scores.reshape(-1, n_tags), gold.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running += loss.item()
    print("epoch", epoch, "avg loss", running / (960 // batch_size))
