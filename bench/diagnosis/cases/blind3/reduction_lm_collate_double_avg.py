# source: https://github.com/jfzhang95/pytorch-deeplab-xception/issues/55
# expect: lr-too-low, loss-plateau, slow-convergence
# category: lm
# bug: the collate function counts the tokens and train_one_epoch divides the already token-averaged cross-entropy by that count again, so SGD steps are ~1000x too short
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

CFG = {
    "vocab": 24,
    "seq_len": 33,
    "d_model": 64,
    "n_heads": 4,
    "batch_size": 32,
    "lr": 0.1,
    "epochs": 6,
    "seed": 3,
}

torch.manual_seed(CFG["seed"])


def make_corpus(n):
    # deterministic successor rule: next = (3 * tok + 1) % vocab, with occasional noise
    seqs = []
    for _ in range(n):
        s = [int(torch.randint(0, CFG["vocab"], (1,)))]
        for _ in range(CFG["seq_len"] - 1):
            nxt = (3 * s[-1] + 1) % CFG["vocab"]
            if torch.rand(1).item() < 0.1:
                nxt = int(torch.randint(0, CFG["vocab"], (1,)))
            s.append(nxt)
        seqs.append(torch.tensor(s))
    return seqs


def collate(batch):
    seqs = torch.stack(batch)
    inputs, targets = seqs[:, :-1], seqs[:, 1:]
    return {"inputs": inputs, "targets": targets, "n_tokens": targets.numel()}


class TinyLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["d_model"]
        self.tok = nn.Embedding(cfg["vocab"], d)
        self.pos = nn.Embedding(cfg["seq_len"], d)
        layer = nn.TransformerEncoderLayer(d, cfg["n_heads"], 2 * d, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 1)
        self.head = nn.Linear(d, cfg["vocab"])

    def forward(self, ids):
        L = ids.size(1)
        h = self.tok(ids) + self.pos(torch.arange(L))
        mask = nn.Transformer.generate_square_subsequent_mask(L)
        h = self.enc(h, mask=mask, is_causal=True)
        return self.head(h)


def compute_loss(model, batch):
    logits = model(batch["inputs"])
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch["targets"].reshape(-1))
    return ce / batch["n_tokens"], ce


def train_one_epoch(model, loader, opt, epoch, log_every=20):
    for i, batch in enumerate(loader):
        loss, ce = compute_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i % log_every == 0:
            print(f"epoch {epoch} it {i:3d} token ce {ce.item():.4f}")


def main():
    data = make_corpus(1024)
    loader = DataLoader(data, batch_size=CFG["batch_size"], shuffle=True, collate_fn=collate)
    model = TinyLM(CFG)
    opt = torch.optim.SGD(model.parameters(), lr=CFG["lr"], momentum=0.9)
    for epoch in range(CFG["epochs"]):
        train_one_epoch(model, loader, opt, epoch)


if __name__ == "__main__":
    main()
