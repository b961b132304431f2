# source: https://github.com/pytorch/pytorch/issues/28508
# expect: causal-leak, label-leakage
# category: lm
# bug: the square subsequent mask is transposed (-inf below the diagonal), so each position sees itself and every later token in a sequence-first TransformerEncoder
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

CFG = dict(vocab=20, d_model=64, nhead=4, layers=2, bptt=20, batch=24, lr=0.1, momentum=0.9, steps=300, seed=1)
torch.manual_seed(CFG["seed"])


def build_corpus(n_tokens, vocab):
    g = torch.Generator().manual_seed(123)
    table = torch.randint(0, vocab, (vocab, vocab), generator=g)
    toks = [0, 1]
    for _ in range(n_tokens - 2):
        if torch.rand(1, generator=g).item() < 0.6:
            toks.append(int(table[toks[-2], toks[-1]]))
        else:
            toks.append(int(torch.randint(0, vocab, (1,), generator=g)))
    return torch.tensor(toks)


def batchify(data, bsz):
    n = data.size(0) // bsz
    return data[: n * bsz].view(bsz, n).t().contiguous()  # (T_total, B)


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len]


def causal_mask(sz):
    m = nn.Transformer.generate_square_subsequent_mask(sz)
    return m.t()


class PositionalEncoding(nn.Module):
    def __init__(self, d, max_len=512):
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(max_len, 1, d)
        pe[:, 0, 0::2] = torch.sin(pos * div)
        pe[:, 0, 1::2] = torch.cos(pos * div)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.size(0)]


class TransformerLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.emb = nn.Embedding(cfg["vocab"], cfg["d_model"])
        self.pos = PositionalEncoding(cfg["d_model"])
        layer = nn.TransformerEncoderLayer(cfg["d_model"], cfg["nhead"], 128, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, cfg["layers"], enable_nested_tensor=False)
        self.head = nn.Linear(cfg["d_model"], cfg["vocab"])
        self.scale = math.sqrt(cfg["d_model"])

    def forward(self, src, src_mask):
        h = self.pos(self.emb(src) * self.scale)
        h = self.encoder(h, mask=src_mask)
        return self.head(h)


def train_one_epoch(model, opt, data, cfg, step0):
    model.train()
    step = step0
    for i in range(0, data.size(0) - 1, cfg["bptt"]):
        src, tgt = get_batch(data, i, cfg["bptt"])
        mask = causal_mask(src.size(0))
        out = model(src, mask)
        loss = F.cross_entropy(out.view(-1, cfg["vocab"]), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        if step % 50 == 0 or step == cfg["steps"] - 1:
            print(f"step {step:4d} | loss {loss.item():.4f} | ppl {math.exp(loss.item()):.2f}")
        step += 1
        if step >= cfg["steps"]:
            break
    return step


def main():
    data = batchify(build_corpus(24 * 1000, CFG["vocab"]), CFG["batch"])
    model = TransformerLM(CFG)
    opt = torch.optim.SGD(model.parameters(), lr=CFG["lr"], momentum=CFG["momentum"])
    step = 0
    while step < CFG["steps"]:
        step = train_one_epoch(model, opt, data, CFG, step)
    print("done, last loss logged above")


if __name__ == "__main__":
    main()
