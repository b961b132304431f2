"""symmetric-units: a layer whose units stay copies of each other — named at initialisation when the batch's
gradient keeps them identical (checkup) and after training when they still are (run); quiet on zero-init
output layers, frozen constant filters and embeddings."""
import torch
import torch.nn.functional as F
from torch import nn

from conftest import codes
from traindoctor.diagnosis.checkup import checkup


def _const(model, value=0.1):
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.constant_(m.weight, value)
            nn.init.zeros_(m.bias)
    return model


def _probe(model, batch, loss_fn=F.cross_entropy):
    return checkup(model, batch, loss_fn, probes=("symmetry",), progress=False)


def _batch(shape, classes=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(*shape, generator=g), torch.randint(0, classes, (shape[0],), generator=g)


def test_constant_mlp_cnn_and_copied_rows_at_initialisation():
    torch.manual_seed(0)
    mlp = _const(nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)))
    cnn = _const(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3)), value=0.05)
    copied = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        copied[0].weight.copy_(copied[0].weight[:1].expand(8, 6))   # one draw copied into every unit
        copied[2].weight.copy_(copied[2].weight[:, :1].expand(3, 8))  # ...and every unit read alike
        copied[0].bias.fill_(0.0)
    for model, shape in [(mlp, (32, 6)), (cnn, (16, 1, 8, 8)), (copied, (32, 6))]:
        r = _probe(model, _batch(shape))
        assert codes(r) == ["symmetric-units"], (model, [(f.code, f.observation) for f in r.findings])


def test_symmetry_the_gradient_breaks_is_not_named():
    torch.manual_seed(0)
    zero_head = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    nn.init.zeros_(zero_head[2].weight)          # zero-init output layer: each class gets its own gradient
    const_hidden = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    nn.init.constant_(const_hidden[0].weight, 0.1)  # the random layer after it separates the units
    blur = nn.Conv2d(1, 2, 3)
    nn.init.constant_(blur.weight, 1 / 9)
    blur.requires_grad_(False)                    # a fixed box filter by design
    frozen = nn.Sequential(blur, nn.Flatten(), nn.Linear(2 * 36, 3))
    emb = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 3))
    nn.init.zeros_(emb[0].weight)
    cases = [(zero_head, _batch((32, 6))), (const_hidden, _batch((32, 6))), (frozen, _batch((16, 1, 8, 8))),
             (emb, (torch.randint(0, 10, (16, 3)), torch.randint(0, 3, (16,))))]
    for model, batch in cases:
        assert codes(_probe(model, batch)) == [], model


def test_after_training_run_names_units_that_stayed_identical(run_code):
    r = run_code("""
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
x = torch.randn(512, 10); y = (x[:, 0] * x[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 2))
for m in model:
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, 0.1); nn.init.zeros_(m.bias)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(100):
    i = (step * 32) % 512
    loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32]); opt.zero_grad(); loss.backward(); opt.step()
""")
    assert codes(r)[:1] == ["symmetric-units"], codes(r)


def test_after_training_a_zero_initialised_head_has_separated(run_code):
    r = run_code("""
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
x = torch.randn(512, 10); y = (x[:, 0] > 0).long()
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))
nn.init.zeros_(model[2].weight)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(60):
    i = (step * 32) % 512
    loss = F.cross_entropy(model(x[i:i + 32]), y[i:i + 32]); opt.zero_grad(); loss.backward(); opt.step()
""")
    assert "symmetric-units" not in codes(r), codes(r)


class _Tagger(nn.Module):
    """Tokens -> embedding -> recurrent or attention layer -> classes."""
    def __init__(self, body, vocab=10, dim=8):
        super().__init__()
        self.emb, self.body, self.out = nn.Embedding(vocab, dim), body, nn.Linear(dim, 3)

    def forward(self, s):
        h = self.body(self.emb(s))
        return self.out((h[0] if isinstance(h, tuple) else h).mean(1))


def _tokens():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 10, (16, 5), generator=g), torch.randint(0, 3, (16,), generator=g)


def _layers(report):
    record = next(r for r in report.sections["checkup"]["probes"] if r["name"] == "symmetry")
    return set(record.get("layers", {}))


def test_a_unit_of_a_recurrent_layer_is_its_row_in_every_gate():
    """Identical within each gate block (the LSTM's i, f, g, o, each its own value) is symmetric; the gates
    differing from each other is not a difference between units. The head reads every unit alike."""
    torch.manual_seed(0)
    for body in (nn.LSTM(8, 8, batch_first=True), nn.GRU(8, 8, batch_first=True)):
        model = _Tagger(body)
        nn.init.constant_(model.out.weight, 0.1)
        gates = body.weight_ih_l0.shape[0] // 8
        with torch.no_grad():
            for name, p in body.named_parameters():
                p.copy_(torch.arange(gates, dtype=p.dtype).repeat_interleave(8).reshape(-1, *[1] * (p.dim() - 1))
                        .expand_as(p) * 0.1 + 0.05)
        assert _layers(_probe(model, _tokens())) == {"body.weight_ih_l0"}, body
        torch.manual_seed(1)
        assert _layers(_probe(_Tagger(type(body)(8, 8, batch_first=True)), _tokens())) == set()


def test_identical_embedding_dimensions_and_attention_units():
    """An embedding's units are its dimensions (columns): constant, every token is the same vector. An
    attention layer's are the query, key and value rows of one dimension."""
    torch.manual_seed(0)
    bag = nn.Sequential(nn.Embedding(10, 6), nn.Flatten(), nn.Linear(30, 8), nn.Tanh(), nn.Linear(8, 3))
    for m in (bag[0], bag[2]):
        nn.init.constant_(m.weight, 0.05)
    assert _layers(_probe(bag, _tokens())) == {"0.weight"}  # the random head separates `2`'s units
    model = _Tagger(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True))
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.constant_(p, 0.05)
    found = _layers(_probe(model, _tokens()))
    assert "body.self_attn.in_proj_weight" in found and "out.weight" not in found, found


def test_random_biases_do_not_separate_constant_units():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.1)  # the biases keep their random draw
    r = _probe(model, _batch((32, 6)))
    assert codes(r) == ["symmetric-units"] and _layers(r) == {"0.weight", "2.weight"}


class _HandWritten(nn.Module):
    """An MLP on its own matrices, `x @ W` (units are columns), with a position table added to the input."""
    def __init__(self, first, second):
        super().__init__()
        self.W1, self.W2, self.pos = nn.Parameter(first), nn.Parameter(second), nn.Parameter(torch.zeros(6))
        self.b1 = nn.Parameter(torch.randn(16))

    def forward(self, x):
        return torch.tanh((x + self.pos) @ self.W1 + self.b1) @ self.W2


def test_hand_written_matrices_are_judged_by_their_units_role():
    """Which dimension holds the units is not declared: the columns of a constant W1 have one role (W2's
    rows, constant, read them alike), its rows do not (each input its own); the zero position table is
    added, not multiplied: it has no units."""
    torch.manual_seed(0)
    constant = _HandWritten(torch.full((6, 16), 0.1), torch.full((16, 3), 0.1))
    assert _layers(_probe(constant, _batch((32, 6)))) == {"W1 (dim 1)"}
    random_head = _HandWritten(torch.full((6, 16), 0.1), torch.randn(16, 3))
    assert codes(_probe(random_head, _batch((32, 6)))) == []


def test_zero_weights_get_a_zero_gradient_and_are_named():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))
    for p in model.parameters():
        nn.init.zeros_(p)
    x = torch.randn(32, 4)
    r = _probe(model, (x, x[:, :1] ** 2), loss_fn=F.mse_loss)
    assert _layers(r) == {"0.weight", "2.weight"} and "gradient is identical" in r.findings[0].observation


def test_transposed_convolutions_and_depthwise_kernels():
    """A transposed convolution's units are on dim 1 of its weight (the convolution after it, also constant,
    reads them alike; the random head separates the convolution's own units); identical depthwise kernels
    read different input channels, so their units differ, and a grouped convolution's units are compared
    within their group."""
    torch.manual_seed(0)
    up = nn.Sequential(nn.ConvTranspose2d(2, 4, 2, stride=2), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(),
                       nn.Flatten(), nn.Linear(4 * 36, 3))
    for m in (up[0], up[2]):
        nn.init.constant_(m.weight, 0.1); nn.init.zeros_(m.bias)
    assert _layers(_probe(up, _batch((8, 2, 4, 4)))) == {"0.weight"}
    depthwise = nn.Sequential(nn.Conv2d(3, 3, 3, groups=3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 36, 3))
    nn.init.constant_(depthwise[0].weight, 0.1)
    assert codes(_probe(depthwise, _batch((8, 3, 8, 8)))) == []
    # two groups of four channels: the four of a group read the same inputs, and the constant head reads them alike
    grouped = _const(nn.Sequential(nn.Conv2d(2, 8, 3, groups=2), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 3)))
    r = _probe(grouped, _batch((8, 2, 8, 8)))
    assert _layers(r) == {"0.weight"} and "all 4 units" in r.findings[0].observation, r.findings


def test_the_output_layer_alone_is_never_symmetric():
    """Each output unit has its own target: a zero-initialised logistic regression, or a zero head whose
    targets are nearly equal, start alike because the targets are."""
    torch.manual_seed(0)
    logistic = nn.Linear(6, 3)
    nn.init.zeros_(logistic.weight)
    x = torch.randn(32, 6)
    head = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))
    nn.init.zeros_(head[2].weight)
    assert codes(_probe(logistic, _batch((32, 6)))) == []
    assert codes(_probe(head, (x, x[:, :1].expand(32, 2) + 0.01 * x[:, 1:3]), loss_fn=F.mse_loss)) == []


def test_severity_follows_whether_the_batch_can_be_fitted():
    """All zero: the model cannot fit the batch, and the symmetry is the error that explains it; constant
    weights with random biases still fit 64 samples, and it stays a warning ranked first."""
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    for init, severity in ((nn.init.zeros_, "error"), (lambda p: nn.init.constant_(p, 0.1) if p.dim() > 1 else p, "warning")):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))
        for p in model.parameters():
            init(p)
        r = checkup(model, (x, y), F.cross_entropy, progress=False)
        assert (r.findings[0].code, r.findings[0].severity) == ("symmetric-units", severity), r.findings
        assert all(f.explained_by == "symmetric-units" for f in r.findings[1:] if f.severity != "info"), r.findings


def test_norm_layers_padding_rows_and_zero_branches_at_initialisation():
    """LayerNorm at 1 and 0 has no incoming weights; a padding row is one token, not a unit; an attention
    output projection and a residual convolution started at zero get their own gradient per unit."""
    torch.manual_seed(0)
    model = _Tagger(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True))
    model.emb = nn.Embedding(10, 8, padding_idx=0)
    nn.init.zeros_(model.body.self_attn.out_proj.weight); nn.init.zeros_(model.body.linear2.weight)
    residual = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    nn.init.zeros_(residual[3].weight)

    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem, self.branch, self.head = nn.Conv2d(1, 4, 1), residual, nn.Linear(4, 3)

        def forward(self, x):
            h = self.stem(x)
            return self.head((h + self.branch(h)).mean((2, 3)))
    assert codes(_probe(model, _tokens())) == []
    assert codes(_probe(Res(), _batch((8, 1, 6, 6)))) == []


class _Modulated(nn.Module):
    """adaLN-Zero: the modulation (shift, scale) and the head start at zero."""
    def __init__(self):
        super().__init__()
        self.body, self.cond, self.ada, self.head = nn.Linear(6, 16), nn.Linear(2, 16), nn.Linear(16, 32), nn.Linear(16, 3)
        for layer in (self.ada, self.head):
            nn.init.zeros_(layer.weight); nn.init.zeros_(layer.bias)

    def forward(self, x):
        shift, scale = self.ada(F.silu(self.cond(x[:, :2]))).chunk(2, -1)
        return self.head(F.layer_norm(torch.tanh(self.body(x)), (16,)) * (1 + scale) + shift)


def test_a_layer_no_gradient_reaches_yet_is_read_after_a_step():
    """No gradient reaches the zero modulation until the zero head has moved; then each unit modulates its own
    feature. Zero hidden layers under a zero head stay unreached: nothing will ever tell their units apart."""
    torch.manual_seed(0)
    assert codes(_probe(_Modulated(), _batch((32, 6)))) == []
    zeros = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    for p in zeros.parameters():
        nn.init.zeros_(p)
    assert _layers(_probe(zeros, _batch((32, 6)))) == {"0.weight", "2.weight"}
