# source: https://www.codegenes.net/blog/how-to-use-detach-in-hidden-state-loss-backward-pytorch (blog advice to detach the hidden state inside the per-time-step loop: "for i in range(sequence_length): ... hidden = hidden.detach()")
# expect: state-not-detached, graph-break
# category: sequence
# bug: the unrolled GRUCell loop feeds h.detach() into the cell at EVERY time step, so backprop is truncated to a single step; the label is decided by a cue token at the start of a 16-step sequence and the classifier reads only the final state, so no gradient ever reaches the step where the cue was seen and accuracy stays at chance
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

N_CLASSES, N_NOISE, SEQ = 4, 8, 16
VOCAB = N_CLASSES + N_NOISE


def make_batch(b):
    """First token: one of 4 cue tokens (the label). Then 15 distractor tokens."""
    y = torch.randint(0, N_CLASSES, (b,))
    noise = torch.randint(N_CLASSES, VOCAB, (b, SEQ - 1))
    x = torch.cat([y[:, None], noise], 1)            # [B, T] batch-first
    return x, y


class CueRecall(nn.Module):
    def __init__(self, hid=64):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 16)
        self.cell = nn.GRUCell(16, hid)
        self.cls = nn.Linear(hid, N_CLASSES)
        self.hid = hid

    def forward(self, x):
        e = self.emb(x)
        h = torch.zeros(x.shape[0], self.hid)
        for t in range(x.shape[1]):
            h = self.cell(e[:, t], h.detach())
        return self.cls(h)


model = CueRecall()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(1, 401):
    x, y = make_batch(64)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 40 == 0:
        with torch.no_grad():
            xv, yv = make_batch(512)
            acc = (model(xv).argmax(1) == yv).float().mean().item()
        print(f"step {step:4d}  loss {loss.item():.4f}  val acc {acc:.3f}")
