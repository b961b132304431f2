"""`traindoctor run`: a model that sees the future on a next-step task, on every layout, is named
first as `causal-leak`: a TCN with 'same' padding on (B, C, T) series, a sequence-first Transformer
whose causal mask is built the wrong way round (boolean transposed, float with 0 and -inf swapped), a
bidirectional LSTM forecasting float series or giving a language model's (T*B, V) log-probabilities,
a GPT without a mask and flattened targets, a seq2seq decoder without its mask, attention over one-hot
tokens with the mask hiding the past, a nanoGPT whose boolean mask means the opposite to SDPA, a
forecaster (standardised inputs, raw targets) whose mask is one diagonal off, a decoder-only LM whose
cross-attention reads its own input, attention over a GRU's states, a delta feature made with roll.
Their healthy
look-alikes stay silent: causal convolutions (left padding, or none with the targets k steps ahead),
the mask the right way round, bidirectional encoders whose targets are labels, an autoencoder
(shift 0), one-direction RNNs, a masked decoder."""
import math

import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
def train(model, batch, loss_fn, steps=20, lr=3e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        inputs, targets = batch()
        loss = loss_fn(model(*inputs), targets)
        opt.zero_grad(); loss.backward(); opt.step()
def waves(B, C, T):                                    # (B, C, T) noisy sines
    t = torch.arange(T).float()
    return torch.sin(0.3 * t + torch.rand(B, C, 1) * 6.28) + 0.1 * torch.randn(B, C, T)
"""

TCN = """
class TCN(nn.Module):
    def __init__(self, causal):
        super().__init__()
        self.causal = causal
        self.convs = nn.ModuleList([nn.Conv1d(2, 16, 3, dilation=1), nn.Conv1d(16, 16, 3, dilation=2)])
        self.head = nn.Conv1d(16, 2, 1)
    def forward(self, x):                              # (B, C, T)
        for conv in self.convs:
            pad = 2 * conv.dilation[0]
            x = F.relu(conv(F.pad(x, (pad, 0) if self.causal else (pad // 2, pad // 2))))
        return self.head(x)
def batch():
    s = waves(16, 2, 33)
    return (s[..., :-1],), s[..., 1:]                  # the next step of both channels
train(TCN(causal=CAUSAL), batch, F.mse_loss)
"""

TRANSFORMER = """
V, T = 12, 16
class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 32)
        self.pos = nn.Parameter(torch.randn(T, 1, 32) * 0.1)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0), 2,
                                         enable_nested_tensor=False)  # batch_first=False: (T, B, E)
        self.head = nn.Linear(32, V)
    def forward(self, ids):                            # (T, B)
        n = ids.shape[0]
        mask = MASK
        return self.head(self.enc(self.emb(ids) + self.pos[:n], mask=mask))
def batch():
    seq = (torch.randint(0, V, (1, 12)) + torch.arange(T + 1)[:, None] * torch.randint(1, 3, (1, 12))) % V
    return (seq[:-1],), seq[1:]
train(LM(), batch, lambda out, y: F.cross_entropy(out.reshape(-1, V), y.reshape(-1)), lr=1e-3)
"""
TRIU = "torch.triu(torch.ones(n, n), 1).bool()"
# the mask handed in beside time-first tokens, targets flattened before the loss: the (T, T) mask is the only
# tensor whose size matches a dim of the tokens, and must not make time the batch axis
MASK_ARGUMENT = TRANSFORMER.replace("def forward(self, ids):", "def forward(self, ids, mask):").replace(
    "        n = ids.shape[0]\n        mask = MASK\n", "").replace(
    "return (seq[:-1],), seq[1:]", "n = T\n    return (seq[:-1], MASK), seq[1:].reshape(-1)").replace(
    "self.pos[:n]", "self.pos[:ids.shape[0]]")
SWAPPED = "torch.where(torch.full((n, n), float('-inf')).triu(1) == 0, float('-inf'), 0.0).fill_diagonal_(0.0)"

RNN_FORECAST = """
class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 24, batch_first=True, bidirectional=BIDIRECTIONAL)
        self.out = nn.Linear(48 if BIDIRECTIONAL else 24, 1)
    def forward(self, x):
        return self.out(self.rnn(x)[0])
def batch():
    s = waves(16, 3, 25).transpose(1, 2)               # (B, T, F)
    return (s[:, :-1],), s[:, 1:, :1]                  # the next value of channel 0
train(Forecaster(), batch, F.mse_loss)
"""

GPT = """
V, T, E = 16, 20, 32
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv, self.proj, self.ln = nn.Linear(E, 3 * E), nn.Linear(E, E), nn.LayerNorm(E)
    def forward(self, h):
        q, k, v = self.qkv(self.ln(h)).chunk(3, -1)
        return h + self.proj(F.scaled_dot_product_attention(q, k, v, is_causal=CAUSAL))
class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos = nn.Embedding(V, E), nn.Embedding(T, E)
        self.blocks, self.head = nn.Sequential(Block(), Block()), nn.Linear(E, V)
    def forward(self, idx):
        return self.head(self.blocks(self.tok(idx) + self.pos(torch.arange(idx.shape[1])))).view(-1, V)
data = torch.randint(0, V, (2000,))
def batch():
    i = torch.randint(0, len(data) - T - 1, (12,)).tolist()
    x = torch.stack([data[j:j + T] for j in i])
    return (x,), torch.stack([data[j + 1:j + T + 1] for j in i]).view(-1)   # (B*T,) for the loss
train(GPT(), batch, F.cross_entropy, lr=1e-3)
"""

SEQ2SEQ = """
V = 12
class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, 32)
        self.net = nn.Transformer(32, 4, 1, 1, 64, dropout=0.0, batch_first=True)
        self.out = nn.Linear(32, V)
    def forward(self, src, tgt_in):
        mask = nn.Transformer.generate_square_subsequent_mask(tgt_in.shape[1]) if CAUSAL else None
        return self.out(self.net(self.emb(src), self.emb(tgt_in), tgt_mask=mask))
def batch():
    src = torch.randint(2, V, (12, 10))
    tgt = torch.cat([torch.ones(12, 1, dtype=torch.long), src.flip(1)], 1)   # BOS, then the source reversed
    return (src, tgt[:, :-1]), tgt[:, 1:]             # teacher forcing: the decoder reads the target shifted
train(Seq2Seq(), batch, lambda out, y: F.cross_entropy(out.reshape(-1, V), y.reshape(-1)), lr=1e-3)
"""

WORD_LM = """
V, H = 30, 32
class RNNModel(nn.Module):                            # pytorch/examples' word_language_model layout
    def __init__(self):
        super().__init__()
        self.enc, self.rnn = nn.Embedding(V, H), nn.LSTM(H, H, 2, bidirectional=BIDIRECTIONAL)
        self.dec = nn.Linear(H * (2 if BIDIRECTIONAL else 1), V)
    def forward(self, x, hidden):                      # (T, B) ids and a (layers, B, H) state
        out, hidden = self.rnn(self.enc(x), hidden)
        return F.log_softmax(self.dec(out).view(-1, V), 1), hidden   # (T*B, V)
data = torch.randint(0, V, (3000,)).view(-1, 20)     # batchified: (steps, batch)
model = RNNModel(); opt = torch.optim.SGD(model.parameters(), lr=1.0)
hidden = tuple(torch.zeros(4 if BIDIRECTIONAL else 2, 20, H) for _ in range(2))
for i in range(0, 100, 5):
    x, y = data[i:i + 35], data[i + 1:i + 36].reshape(-1)
    out, hidden = model(x, tuple(h.detach() for h in hidden))
    loss = F.nll_loss(out, y)
    opt.zero_grad(); loss.backward(); opt.step()
"""

ONE_HOT = """
V, T = 8, 12
class LM(nn.Module):                                   # one-hot float tokens (B, T, V) in
    def __init__(self):
        super().__init__()
        self.inp, self.out = nn.Linear(V, 32), nn.Linear(32, V)
        self.attn = nn.MultiheadAttention(32, 2, batch_first=True)
    def forward(self, x):
        h = self.inp(x)
        return self.out(h + self.attn(h, h, h, attn_mask=MASK)[0])
def batch():
    s = torch.randint(0, V, (16, T + 1))
    return (F.one_hot(s[:, :-1], V).float(),), s[:, 1:]
train(LM(), batch, lambda out, y: F.cross_entropy(out.reshape(-1, V), y.reshape(-1)))
"""

NANO_GPT = """
V, T, E, H = 16, 20, 32, 4
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv, self.proj, self.ln = nn.Linear(E, 3 * E), nn.Linear(E, E), nn.LayerNorm(E)
    def forward(self, x):
        B, n, _ = x.shape
        q, k, v = (t.view(B, n, H, E // H).transpose(1, 2) for t in self.qkv(self.ln(x)).chunk(3, -1))
        future = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=MASK)  # a boolean mask: True = may attend
        return x + self.proj(y.transpose(1, 2).reshape(B, n, E))
class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok, self.pos, self.block, self.head = nn.Embedding(V, E), nn.Embedding(T, E), Block(), nn.Linear(E, V)
    def forward(self, idx, targets):                   # nanoGPT's signature: (logits, loss)
        logits = self.head(self.block(self.tok(idx) + self.pos(torch.arange(idx.shape[1]))))
        return logits, F.cross_entropy(logits.view(-1, V), targets.view(-1))
model = GPT(); opt = torch.optim.AdamW(model.parameters(), 1e-3)
data = torch.randint(0, V, (2000,))
for step in range(20):
    i = torch.randint(0, len(data) - T - 1, (12,)).tolist()
    x, y = torch.stack([data[j:j + T] for j in i]), torch.stack([data[j + 1:j + T + 1] for j in i])
    _, loss = model(x, y)
    opt.zero_grad(); loss.backward(); opt.step()
"""

ATTENTION_FORECAST = """
import math
E = 32
class Forecaster(nn.Module):                           # (B, T, F) floats in, the next value of channel 0 out
    def __init__(self):
        super().__init__()
        self.inp, self.qkv, self.out = nn.Linear(2, E), nn.Linear(E, 3 * E), nn.Linear(E, 1)
    def forward(self, x):
        h, n = self.inp(x), x.shape[1]
        q, k, v = self.qkv(h).chunk(3, -1)
        w = (q @ k.transpose(1, 2) / math.sqrt(E)).masked_fill(KEEP == 0, float("-inf"))
        return self.out(h + F.softmax(w, -1) @ v)
def batch():
    s = 20 + 5 * waves(16, 2, 33).transpose(1, 2)     # (B, T, F) in the data's units
    return ((s[:, :-1] - 20) / 5,), s[:, 1:, :1]       # inputs standardised for the model, targets raw
train(Forecaster(), batch, F.mse_loss)
"""

DECODER_ONLY = """
V, T, E = 16, 16, 32
class LM(nn.Module):                                   # a decoder-only LM from nn.TransformerDecoder, (T, B)
    def __init__(self):
        super().__init__()
        self.emb, self.pos = nn.Embedding(V, E), nn.Parameter(torch.randn(T, 1, E) * 0.02)
        self.dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, 4, 64, dropout=0.0), 1)
        self.head = nn.Linear(E, V)
    def forward(self, ids):
        h = self.emb(ids) + self.pos[:ids.shape[0]]
        mask = nn.Transformer.generate_square_subsequent_mask(ids.shape[0])
        return self.head(self.dec(h, memory=MEMORY, tgt_mask=mask, tgt_is_causal=True))
def batch():
    chunk = torch.randint(0, V, (T + 1, 12))
    return (chunk[:-1],), chunk[1:]
train(LM(), batch, lambda out, y: F.cross_entropy(out.reshape(-1, V), y.reshape(-1)), lr=1e-3)
"""

RNN_THEN_ATTENTION = """
V, T = 12, 24
class LM(nn.Module):                                   # a one-direction GRU, then attention over its states
    def __init__(self):
        super().__init__()
        self.emb, self.gru = nn.Embedding(V, 16), nn.GRU(16, 32, batch_first=True)
        self.attn, self.out = nn.MultiheadAttention(32, 4, batch_first=True), nn.Linear(64, V)
    def forward(self, x):
        h, _ = self.gru(self.emb(x))
        n = x.shape[1]
        ctx, _ = self.attn(h, h, h, attn_mask=MASK)
        return self.out(torch.cat([h, ctx], -1))
def batch():
    s = torch.randint(0, V, (16, T + 1))
    return (s[:, :-1],), s[:, 1:]
train(LM(), batch, lambda out, y: F.cross_entropy(out.permute(0, 2, 1), y))
"""

ROLLED_DELTA = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.out = nn.LSTM(4, 32, batch_first=True), nn.Linear(32, 2)
    def forward(self, x):                              # (B, T, F)
        return self.out(self.rnn(torch.cat([x, DELTA], -1))[0])
def batch():
    s = waves(16, 2, 41).transpose(1, 2)
    return (s[:, :-1],), s[:, 1:]
train(Net(), batch, F.mse_loss)
"""

MHA = """
V, T, E = 20, 16, 32
class LM(nn.Module):                                   # nn.MultiheadAttention on (T, B, E)
    def __init__(self):
        super().__init__()
        self.emb, self.pos = nn.Embedding(V, E), nn.Parameter(torch.randn(T, 1, E) * 0.02)
        self.attn, self.out = nn.MultiheadAttention(E, 4), nn.Linear(E, V)
    def forward(self, ids):                            # (T, B)
        n = ids.shape[0]
        h = self.emb(ids) + self.pos[:n]
        return self.out(h + self.attn(h, h, h, attn_mask=MASK)[0])
def batch():
    chunk = torch.randint(0, V, (T + 1, 12))
    return (chunk[:-1],), chunk[1:]
train(LM(), batch, lambda out, y: F.cross_entropy(out.reshape(-1, V), y.reshape(-1)), lr=1e-3)
"""

BROKEN = {
    "tcn-same-padding": TCN.replace("CAUSAL", "False"),
    "transformer-mask-transposed": TRANSFORMER.replace("MASK", TRIU + ".t()"),
    "transformer-float-mask-swapped": TRANSFORMER.replace("MASK", SWAPPED),
    "transformer-mask-argument-transposed": MASK_ARGUMENT.replace("MASK", TRIU + ".t()"),
    "bidirectional-lstm-forecast": RNN_FORECAST.replace("BIDIRECTIONAL", "True"),
    "gpt-no-mask-flat-targets": GPT.replace("CAUSAL", "False"),
    "seq2seq-decoder-unmasked": SEQ2SEQ.replace("CAUSAL", "False"),
    "bidirectional-word-lm-sequence-first": WORD_LM.replace("BIDIRECTIONAL", "True"),
    "one-hot-tokens-mask-hiding-the-past": ONE_HOT.replace("MASK", "torch.ones(T, T, dtype=torch.bool).tril(-1)"),
    # "True = may attend" given to nn.MultiheadAttention, whose True hides: each position sees only later ones,
    # and the last, which has none, makes NaN
    "mha-mask-meaning-swapped-sequence-first": MHA.replace("MASK", "torch.tril(torch.ones(n, n, dtype=torch.bool))"),
    # a mask built as "True = hidden" given to an API whose True means "may attend": only the future is seen
    "nano-gpt-sdpa-mask-meaning-swapped": NANO_GPT.replace("MASK", "future | torch.eye(n, dtype=torch.bool)"),
    # the diagonal one off: position t sees t + 1, the value it must forecast; inputs standardised, targets raw
    "forecast-mask-one-diagonal-off": ATTENTION_FORECAST.replace("KEEP", "torch.ones(n, n).tril(1)"),
    # the target mask is right, but cross-attention reads the same embeddings as its memory
    "decoder-only-memory-is-its-own-input": DECODER_ONLY.replace("MEMORY", "h"),
    "gru-then-unmasked-attention": RNN_THEN_ATTENTION.replace("MASK", "None"),
    # a "delta" feature by roll: x[t + 1] - x[t], or x[t] - x[t - 1] whose position 0 wraps to the last input
    "roll-ahead-delta": ROLLED_DELTA.replace("DELTA", "torch.roll(x, -1, 1) - x"),
    "roll-wrapping-round": ROLLED_DELTA.replace("DELTA", "x - torch.roll(x, 1, 1)"),
}

HEALTHY = {
    "transformer-mask-argument-right-way": MASK_ARGUMENT.replace("MASK", TRIU),
    "nano-gpt-sdpa-mask-right-way": NANO_GPT.replace("MASK", "~future"),
    "mha-mask-hiding-the-future-sequence-first": MHA.replace("MASK", "torch.triu(torch.ones(n, n, dtype=torch.bool), 1)"),
    "forecast-mask-on-the-diagonal": ATTENTION_FORECAST.replace("KEEP", "torch.ones(n, n).tril()"),
    "decoder-only-empty-memory": DECODER_ONLY.replace("MEMORY", "torch.zeros_like(h[:1])"),
    "gru-then-masked-attention": RNN_THEN_ATTENTION.replace("MASK", "nn.Transformer.generate_square_subsequent_mask(n)"),
    "delta-with-the-first-position-padded": ROLLED_DELTA.replace("DELTA", "x - F.pad(x, (0, 0, 1, 0))[:, :-1]"),
    "tcn-left-padding": TCN.replace("CAUSAL", "True"),
    "valid-conv-k-steps-ahead": """
K = 4
model = nn.Sequential(nn.Conv1d(1, 16, K), nn.ReLU(), nn.Conv1d(16, 1, 1))  # output j sits at input j + K - 1
def batch():
    s = waves(16, 1, 33)
    return (s[..., :-1],), s[..., K:]                  # output j predicts input j + K
train(model, batch, F.mse_loss)
""",
    "transformer-mask-right-way": TRANSFORMER.replace("MASK", TRIU),
    "one-direction-lstm-forecast": RNN_FORECAST.replace("BIDIRECTIONAL", "False"),
    "gpt-causal-flat-targets": GPT.replace("CAUSAL", "True"),
    "seq2seq-decoder-masked": SEQ2SEQ.replace("CAUSAL", "True"),
    "word-lm-sequence-first": WORD_LM.replace("BIDIRECTIONAL", "False"),
    "one-hot-tokens-mask-hiding-the-future": ONE_HOT.replace("MASK", "torch.ones(T, T, dtype=torch.bool).triu(1)"),
    "bidirectional-gru-classifier": """
class Clf(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.out = nn.GRU(3, 24, batch_first=True, bidirectional=True), nn.Linear(48, 2)
    def forward(self, x):
        return self.out(self.rnn(x)[0].mean(1))
def batch():
    x = torch.randn(16, 20, 3)
    return (x,), (x[:, :, 0].sum(1) > 0).long()        # a label per sequence
train(Clf(), batch, F.cross_entropy)
""",
    "bidirectional-lstm-tagger": """
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.out = nn.Embedding(10, 16), nn.Linear(64, 3)
        self.rnn = nn.LSTM(16, 32, batch_first=True, bidirectional=True)
    def forward(self, tokens):
        return self.out(self.rnn(self.emb(tokens))[0])
def batch():
    tokens = torch.randint(0, 10, (16, 14))
    tags = torch.zeros(16, 14, dtype=torch.long)
    tags[:, :-1] = tokens[:, 1:] % 3                   # a label about the next token, not the token
    return (tokens,), tags
train(Tagger(), batch, lambda out, y: F.cross_entropy(out.reshape(-1, 3), y.reshape(-1)))
""",
    "bidirectional-autoencoder-sequence-first": """
class AE(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.out = nn.GRU(4, 16, bidirectional=True), nn.Linear(32, 4)
    def forward(self, x):                              # (T, B, F)
        return self.out(self.rnn(x)[0])
def batch():
    x = torch.randn(20, 16, 4).cumsum(0) / 4
    return (x,), x                                     # the present from the present: shift 0
train(AE(), batch, F.mse_loss)
""",
}


def causal_record(report):
    return next(p for p in report.sections["run"]["probes"] if p["name"] == "causal-independence")


@pytest.mark.parametrize("name", BROKEN)
def test_a_model_that_sees_the_future_is_named_first(run_code, name):
    r = run_code(PRELUDE + BROKEN[name])
    assert codes(r)[:1] == ["causal-leak"], codes(r)
    assert r.findings[0].severity == "error"


def test_a_leak_is_measured_where_the_outputs_are_numbers(run_code):
    r = run_code(PRELUDE + BROKEN["mha-mask-meaning-swapped-sequence-first"])
    record = causal_record(r)
    assert math.isfinite(record["relative_change"]) and record["relative_change"] > 0.01, record
    assert record["weights"].startswith("as training started"), record  # the trained ones turned NaN
    assert codes(r)[:1] == ["causal-leak"], codes(r)


@pytest.mark.parametrize("name", HEALTHY)
def test_its_healthy_look_alike_is_not(run_code, name):
    r = run_code(PRELUDE + HEALTHY[name])
    assert "causal-leak" not in codes(r), codes(r)
    record = causal_record(r)
    next_step = not name.startswith("bidirectional")  # a next-step task: the probe looked and found no leak
    assert record.get("causal_expected", False) == next_step, record
