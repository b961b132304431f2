# source: https://learn.biosrag.com/ai/rnn-training-4.html
# expect: state-not-detached
# category: classification
# bug: a next-item model keeps a recurrent session-context vector (leaky average of item embeddings) across batches without detaching it; retain_graph=True makes it run, and every step backpropagates through all previous batches
import time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(9)

N_ITEMS, DIM, BATCH, WINDOW = 40, 24, 32, 6
STEPS = 300

# users drift slowly through "topics"; the next item comes from the current topic
topic_of = torch.arange(N_ITEMS) % 5


def sample_batch(topics):
    choices = torch.stack([torch.nonzero(topic_of == t).squeeze(1) for t in range(5)])  # (5, 8)
    cols = torch.randint(choices.shape[1], (BATCH, WINDOW + 1))
    items = choices[topics][torch.arange(BATCH)[:, None], cols]
    return items[:, :WINDOW], items[:, WINDOW]


class NextItem(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(N_ITEMS, DIM)
        self.mix = nn.Linear(2 * DIM, DIM)
        self.out = nn.Linear(DIM, N_ITEMS)

    def forward(self, window, context):
        e = self.emb(window).mean(1)
        context = 0.8 * context + 0.2 * e
        h = torch.tanh(self.mix(torch.cat([e, context], dim=-1)))
        return self.out(h), context


model = NextItem()
optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
context = torch.zeros(BATCH, DIM)
topics = torch.randint(5, (BATCH,))

t0 = time.perf_counter()
for step in range(STEPS):
    flip = torch.rand(BATCH) < 0.05
    topics = torch.where(flip, torch.randint(5, (BATCH,)), topics)
    window, nxt = sample_batch(topics)
    logits, context = model(window, context)
    loss = F.cross_entropy(logits, nxt)
    optimizer.zero_grad()
    loss.backward(retain_graph=True)
    optimizer.step()
    if step % 50 == 0 or step == STEPS - 1:
        now = time.perf_counter()
        print(f"step {step:3d} loss {loss.item():.4f} elapsed {now - t0:.2f}s")
