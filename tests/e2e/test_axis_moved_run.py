"""`traindoctor run` with its defaults on views that keep no shape's dimensions in another order yet move an
axis in memory: segmentation logits (B, C, H, W) reshaped to (B*H*W, C) before the loss, rows of sequences
(B, T*D) viewed as (T, B, D) for a time-first layer, and — where a batch as large as the sequence is long
hides it — a (T, B, H) output viewed as (B, T, H). Each is named with its line; the same scripts with the
permute or transpose meant, and views that only merge or split axes (a sub-pixel convolution), are quiet."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

SEGMENTATION = """
S, C = 12, 3
def batch(n):
    mask = torch.zeros(n, S, S, dtype=torch.long)
    for k in range(n):
        for c in (1, 2):
            a, b = torch.randint(0, S - 4, (2,)); mask[k, a:a + 4, b:b + 4] = c
    return F.one_hot(mask, C).permute(0, 3, 1, 2).float() + 0.2 * torch.randn(n, C, S, S), mask
net = nn.Sequential(nn.Conv2d(C, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, C, 3, padding=1))
opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for step in range(40):
    img, mask = batch(8)
    loss = F.cross_entropy({logits}, mask.view(-1))
    opt.zero_grad(); loss.backward(); opt.step()
"""

ROWS = """
N, T, D, B = 256, 6, 3, 16
seqs = torch.randn(N, T, D); y = (seqs[:, :, 0].sum(1) > 0).long()
flat = seqs.reshape(N, T * D)                          # one row per sequence
rnn, head = nn.GRU(D, 16), nn.Linear(16, 2)            # time-first
opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=3e-3)
for step in range(40):
    i = torch.randint(0, N, (B,))
    xb = {time_first}
    loss = F.cross_entropy(head(rnn(xb)[1][-1]), y[i])
    opt.zero_grad(); loss.backward(); opt.step()
"""

SQUARE = """
V = 5
class Tagger(nn.Module):
    def __init__(self):
        super().__init__(); self.emb, self.rnn, self.head = nn.Embedding(V, 8), nn.LSTM(8, 16), nn.Linear(16, 2)
    def forward(self, tokens):                         # (B, T)
        b, t = tokens.shape
        h, _ = self.rnn(self.emb(tokens.t()))          # (T, B, 16)
        return self.head({batch_first})
net = Tagger(); opt = torch.optim.Adam(net.parameters(), lr=3e-3)
for step in range(40):
    tokens = torch.randint(0, V, (10, 10))             # as many sequences as steps
    tags = torch.zeros(10, 10, dtype=torch.long); tags[:, 1:] = (tokens[:, :-1] >= 3).long()
    loss = F.cross_entropy(net(tokens).reshape(-1, 2), tags.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
"""

CASES = {
    "classes-of-logits-read-along-the-width": (SEGMENTATION, "logits", "net(img).reshape(-1, C)",
                                               "net(img).permute(0, 2, 3, 1).reshape(-1, C)"),
    "samples-read-inside-rows": (ROWS, "time_first", "flat[i].view(T, B, D)", "flat[i].view(B, T, D).transpose(0, 1)"),
    "a-square-batch": (SQUARE, "batch_first", "h.view(b, t, -1)", "h.transpose(0, 1)"),
}


@pytest.mark.parametrize("name", CASES)
def test_a_view_that_moves_an_axis_is_named_with_its_line(run_code, name):
    template, slot, broken, _ = CASES[name]
    source = PRELUDE + template.format(**{slot: broken})
    r = run_code(source)
    assert codes(r)[:1] == ["layout-scrambled"], [(f.code, f.observation) for f in r.findings]
    assert r.findings[0].location["line"] == next(n for n, text in enumerate(source.splitlines(), 1) if broken in text)


@pytest.mark.parametrize("name", CASES)
def test_the_permute_meant_is_quiet(run_code, name):
    template, slot, _, fixed = CASES[name]
    r = run_code(PRELUDE + template.format(**{slot: fixed}))
    assert "layout-scrambled" not in codes(r), [(f.code, f.observation) for f in r.findings]


def test_a_sub_pixel_convolution_written_with_views_is_quiet(run_code):
    r = run_code(PRELUDE + """
r = 2
hi_set = F.avg_pool2d(torch.randn(128, 1, 16, 16), 5, 1, 2) * 3
class SR(nn.Module):
    def __init__(self):
        super().__init__(); self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, r * r, 3, padding=1))
    def forward(self, x):
        b, _, h, w = x.shape
        y = self.body(x).view(b, 1, r, r, h, w).permute(0, 1, 4, 2, 5, 3)
        return y.reshape(b, 1, h * r, w * r)
net = SR(); opt = torch.optim.Adam(net.parameters(), lr=2e-3)
for step in range(40):
    hi = hi_set[torch.randint(0, 128, (16,))]
    loss = F.mse_loss(net(F.avg_pool2d(hi, r)), hi)
    opt.zero_grad(); loss.backward(); opt.step()
""")
    assert codes(r) == [], [(f.code, f.observation) for f in r.findings]


# Images with no spatial structure (a mean per class and channel, pixel noise): read as channels-last memory
# they form one band per channel, whose offsets are not the local structure of an image.
NOISE_WITH_CHANNEL_OFFSETS = """
offset = torch.randn(5, 3, 1, 1) * 2; label = torch.randint(0, 5, (960,)); img = offset[label] + torch.randn(960, 3, 12, 12)
net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
for epoch in range(4):
    for i in range(0, 960, 32):
        loss = F.cross_entropy(net(img[i:i + 32]), label[i:i + 32])
        opt.zero_grad(); loss.backward(); opt.step()
"""


def test_noise_images_with_a_mean_per_channel_are_not_called_scrambled(run_code):
    r = run_code(PRELUDE + NOISE_WITH_CHANNEL_OFFSETS)
    assert "layout-scrambled" not in [f.code for f in r.findings], codes(r)
