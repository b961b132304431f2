"""Each runtime rule on a broken script and on its tricky healthy counterpart."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
x = torch.randn(512, 10); y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
"""


def body(loop):
    return PRELUDE + loop


# ── loss and targets ──────────────────────────────────────────────────────────

def test_log_softmax_into_cross_entropy_is_info_only(run_code):
    r = run_code(body("""
model = nn.Sequential(nn.Linear(10, 4), nn.LogSoftmax(dim=1)); opt = torch.optim.Adam(model.parameters())
for i in range(20):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
"""))
    assert codes(r) == [] and [f.code for f in r.findings] == ["double-softmax"]


def test_log_softmax_into_nll_is_healthy(run_code):
    r = run_code(body("""
model = nn.Sequential(nn.Linear(10, 4), nn.LogSoftmax(dim=1)); opt = torch.optim.Adam(model.parameters())
for i in range(20):
    opt.zero_grad(); F.nll_loss(model(x), y).backward(); opt.step()
"""))
    assert r.findings == []


def test_bce_with_logits_on_logits_is_healthy(run_code):
    r = run_code(body("""
model = nn.Linear(10, 1); opt = torch.optim.Adam(model.parameters())
for i in range(20):
    opt.zero_grad(); F.binary_cross_entropy_with_logits(model(x).squeeze(1), (y > 1).float()).backward(); opt.step()
"""))
    assert r.findings == []


def test_partially_ignored_labels_are_healthy(run_code):
    r = run_code(body("""
model = nn.Linear(10, 4); opt = torch.optim.Adam(model.parameters())
target = y.clone(); target[::3] = -100   # padding positions
for i in range(20):
    opt.zero_grad(); F.cross_entropy(model(x), target).backward(); opt.step()
"""))
    assert r.findings == []


def test_zero_loss_with_zero_gradients_is_labels_all_ignored(run_code):
    r = run_code(body("""
model = nn.Linear(10, 4); opt = torch.optim.Adam(model.parameters())
mask = torch.zeros(512)                  # an empty loss mask
for i in range(20):
    opt.zero_grad()
    loss = (F.cross_entropy(model(x), y, reduction="none") * mask).sum()
    loss.backward(); opt.step()
"""))
    assert codes(r)[0] == "labels-all-ignored"


def test_init_loss_far_above_chance(run_code):
    broken = run_code(body("""
model = nn.Linear(10, 4); nn.init.normal_(model.weight, std=20.0)
opt = torch.optim.Adam(model.parameters())
for i in range(5):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
"""))
    f = broken.findings[0]
    assert f.code == "init-loss-mismatch" and f.evidence["chance"] == pytest.approx(1.386, abs=1e-3)
    assert f.evidence["value"] > f.evidence["high_threshold"]


LM = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
V, D = 64, 128
emb = nn.Embedding(V, D); nn.init.normal_(emb.weight, std=INIT)
class TiedLM(nn.Module):
    def __init__(self):
        super().__init__(); self.emb = emb
    def forward(self, idx):
        return self.emb(idx) @ self.emb.weight.T
model = TiedLM(); opt = torch.optim.Adam(model.parameters(), lr=1e-3)
data = torch.randint(0, V, (32, 17))
for i in range(5):
    opt.zero_grad()
    logits = model(data[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, V), TARGET.reshape(-1))
    loss.backward(); opt.step()
"""


def test_unshifted_labels_with_tied_embeddings_is_label_leakage(run_code):
    r = run_code(LM.replace("INIT", "0.3").replace("TARGET", "data[:, :-1]"))
    assert r.findings[0].code == "label-leakage"


def test_shifted_labels_with_small_init_is_healthy(run_code):
    r = run_code(LM.replace("INIT", "0.02").replace("TARGET", "data[:, 1:]"))
    assert r.findings == []


def test_matching_regression_shapes_are_healthy(run_code):
    r = run_code(body("""
model = nn.Linear(10, 1); opt = torch.optim.Adam(model.parameters())
t = x[:, :1] * 2
for i in range(20):
    opt.zero_grad(); F.mse_loss(model(x), t).backward(); opt.step()
"""))
    assert r.findings == []


def test_unnormalized_inputs(run_code):
    script = body("""
scale = torch.ones(10); scale[2] = SCALE
model = nn.Linear(10, 4); opt = torch.optim.Adam(model.parameters())
for i in range(10):
    opt.zero_grad(); F.cross_entropy(model(x * scale), y).backward(); opt.step()
""")
    broken = run_code(script.replace("SCALE", "5000.0"))
    f = next(f for f in broken.findings if f.code == "unnormalized-inputs")
    assert f.evidence["columns"] == [2] and f.severity == "warning"
    assert "unnormalized-inputs" not in codes(run_code(script.replace("SCALE", "3.0")))


# ── optimizer and loop ────────────────────────────────────────────────────────

def test_gradient_accumulation_is_not_grad_not_zeroed(run_code):
    r = run_code(body("""
# 4 backward passes per optimizer step; the budget counts optimizer steps, not backward passes
model = nn.Linear(10, 4); opt = torch.optim.SGD(model.parameters(), lr=0.05)
for i in range(40):
    F.cross_entropy(model(x[i * 8:(i + 1) * 8]), y[i * 8:(i + 1) * 8]).div(4).backward()
    if (i + 1) % 4 == 0:
        opt.step(); opt.zero_grad()
"""), max_steps=5)
    assert r.findings == []
    assert r.sections["run"]["steps"] == 5 and r.sections["run"]["backward_calls"] == 20


def test_manual_grad_reset_is_healthy(run_code):
    r = run_code(body("""
model = nn.Linear(10, 4); opt = torch.optim.SGD(model.parameters(), lr=0.05)
for i in range(20):
    for p in model.parameters():
        p.grad = None
    F.cross_entropy(model(x), y).backward(); opt.step()
"""))
    assert r.findings == []


def test_two_optimizers_gan_style_is_healthy(run_code):
    r = run_code(body("""
G = nn.Linear(4, 10); D = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
og = torch.optim.Adam(G.parameters(), lr=1e-4); od = torch.optim.Adam(D.parameters(), lr=1e-4)
for i in range(30):
    fake = G(torch.randn(64, 4))
    od.zero_grad()
    ld = F.binary_cross_entropy_with_logits(D(x[:64]), torch.ones(64, 1)) + \\
         F.binary_cross_entropy_with_logits(D(fake.detach()), torch.zeros(64, 1))
    ld.backward(); od.step()
    og.zero_grad()
    F.binary_cross_entropy_with_logits(D(fake), torch.ones(64, 1)).backward(); og.step()
"""))
    assert r.findings == []


def test_one_cycle_per_batch_is_healthy(run_code):
    r = run_code(body("""
from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(x, y), batch_size=8)
model = nn.Linear(10, 4); opt = torch.optim.SGD(model.parameters(), lr=0.1)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=len(loader))
for xb, yb in loader:
    opt.zero_grad(); F.cross_entropy(model(xb), yb).backward(); opt.step(); sched.step()
"""), max_steps=0)
    assert r.findings == []


def test_cosine_over_one_epoch_per_batch_is_healthy(run_code):
    r = run_code(body("""
from torch.utils.data import DataLoader, TensorDataset
loader = DataLoader(TensorDataset(x, y), batch_size=4)
model = nn.Linear(10, 4); opt = torch.optim.SGD(model.parameters(), lr=0.05)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=len(loader))
for xb, yb in loader:
    opt.zero_grad(); F.cross_entropy(model(xb), yb).backward(); opt.step(); sched.step()
"""), max_steps=0)
    assert r.findings == []


def test_frozen_backbone_fine_tuning_is_info_only(run_code):
    r = run_code(body("""
model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 4))
for p in model[0].parameters():
    p.requires_grad = False
opt = torch.optim.Adam(model.parameters(), lr=1e-3)   # lazily passes the frozen ones too
for i in range(20):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
"""))
    assert codes(r) == [] and [(f.code, f.severity) for f in r.findings] == [("frozen-params", "info")]


def test_optimizer_over_frozen_params_only(run_code):
    r = run_code(body("""
model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 4))
for p in model[0].parameters():
    p.requires_grad = False
opt = torch.optim.Adam(model[0].parameters(), lr=1e-3)  # meant: model[2]
for i in range(20):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
"""))
    assert set(codes(r, ("error",))) == {"frozen-params", "params-not-in-optimizer"}


ALTERNATING_GAN = """
G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 10))
D = nn.Sequential(nn.Linear(10, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
og = torch.optim.Adam(G.parameters(), lr=2e-4); od = torch.optim.Adam(D.parameters(), lr=2e-4)
ones, zeros = torch.ones(64, 1), torch.zeros(64, 1)

def toggle(opt):  # as Lightning's toggle_optimizer: only the stepped optimizer's parameters require grad
    for o in (og, od):
        for g in o.param_groups:
            for p in g["params"]:
                p.requires_grad = o is opt

for i in range(100):
    z = torch.randn(64, 4)
    toggle(og)
    og.zero_grad(); F.binary_cross_entropy_with_logits(D(G(z)), ones).backward(); og.step()
    toggle(od)
    od.zero_grad()
    (F.binary_cross_entropy_with_logits(D(x[:64]), ones) + F.binary_cross_entropy_with_logits(D(G(z).detach()), zeros)).backward()
    od.step()
    toggle(None)  # untoggle
"""


def test_alternating_gan_stopped_mid_toggle_is_not_frozen(run_code):
    # Stopped after D's step, before the untoggle: G's parameters read requires_grad=False at the stop,
    # yet G trained at every one of its steps.
    r = run_code(body(ALTERNATING_GAN), max_steps=20)
    assert r.sections["run"]["stopped"] == "max-steps" and r.findings == []


def test_lightning_gan_stopped_mid_toggle_is_not_frozen(tmp_path):
    pytest.importorskip("lightning")
    from conftest import validate
    from traindoctor import run_script

    script = tmp_path / "gan.py"
    script.write_text(LIGHTNING_GAN)
    r = validate(run_script(script, max_steps=20))
    assert r.sections["run"]["stopped"] == "max-steps" and codes(r) == [], r.findings


LIGHTNING_GAN = """
import lightning as L, torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

class GAN(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 10))
        self.D = nn.Sequential(nn.Linear(10, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def training_step(self, batch, _):
        (x,) = batch
        og, od = self.optimizers()
        z, ones, zeros = torch.randn(len(x), 4), torch.ones(len(x), 1), torch.zeros(len(x), 1)
        self.toggle_optimizer(og)
        og.zero_grad(); self.manual_backward(F.binary_cross_entropy_with_logits(self.D(self.G(z)), ones)); og.step()
        self.untoggle_optimizer(og)
        self.toggle_optimizer(od)
        loss = F.binary_cross_entropy_with_logits(self.D(x), ones) + F.binary_cross_entropy_with_logits(self.D(self.G(z).detach()), zeros)
        od.zero_grad(); self.manual_backward(loss); od.step()
        self.untoggle_optimizer(od)

    def configure_optimizers(self):
        return [torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999)),
                torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))]

if __name__ == "__main__":
    L.seed_everything(0, verbose=False)
    data = DataLoader(TensorDataset(torch.randn(2048, 10) * 0.5 + 1), batch_size=32, shuffle=True)
    L.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(GAN(), data)
"""


def test_detached_encoder_is_optimizer_params_unused(run_code):
    script = body("""
enc, head = nn.Linear(10, 16), nn.Linear(16, 4)
opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=1e-3)
for i in range(20):
    opt.zero_grad(); F.cross_entropy(head(torch.relu(enc(x))DETACH), y).backward(); opt.step()
""")
    broken = run_code(script.replace("DETACH", ".detach()"))
    assert codes(broken) == ["optimizer-params-unused"]
    assert broken.findings[0].evidence["parameters"] == ["weight", "bias"]
    assert run_code(script.replace("DETACH", "")).findings == []


REINFORCE = """
import torch, torch.nn as nn, torch.nn.functional as F
from torch.distributions import Categorical
torch.manual_seed(0)

class Pole:
    # Deterministic and unstable: pushing against the drift keeps |x| < 1 longer, up to 150 steps.
    def reset(self):
        self.t, self.x, self.v = 0, 0.05, 0.0
        return self.obs()
    def obs(self):
        return torch.tensor([self.x, self.v, self.x * self.v, 1.0])
    def step(self, a):
        self.v = 0.15 if a else -0.15
        self.x += self.v + 0.2 * self.x
        self.t += 1
        return self.obs(), 1.0, abs(self.x) > 1.0 or self.t >= 150

class Policy(nn.Module):  # pytorch/examples' actor_critic, one unbatched state per call
    def __init__(self):
        super().__init__()
        self.affine = nn.Linear(4, 128); self.action = nn.Linear(128, 2); self.value = nn.Linear(128, 1)
    def forward(self, s):
        h = F.relu(self.affine(s))
        return F.softmax(self.action(h), dim=-1), self.value(h)

model, env = Policy(), Pole()
opt = torch.optim.Adam(model.parameters(), lr=3e-2)
lengths = []
for episode in range(40):
    state, saved, rewards, done = env.reset(), [], [], False
    while not done:
        probs, value = model(state)
        dist = Categorical(probs); a = dist.sample()
        saved.append((dist.log_prob(a), value[0]))
        state, r, done = env.step(a.item()); rewards.append(r)
    R, returns = 0.0, []
    for r in reversed(rewards):
        R = r + 0.99 * R; returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    policy, values = [], []
    for (logp, v), R in zip(saved, returns):
        policy.append(-logp * (R - v.item())); values.append(F.smooth_l1_loss(v, R))
    opt.zero_grad()
    loss = torch.stack(policy).sum() + torch.stack(values).sum()  # grows with the episode length
    loss.backward(); opt.step()
    lengths.append(len(rewards))
print("episode lengths", lengths)
"""


def test_reinforce_with_lengthening_episodes_is_healthy(run_code, capsys):
    # The summed loss rises ~10x as the agent learns to balance longer; Adam's first update is lr per weight.
    r = run_code(REINFORCE)
    lengths = eval(capsys.readouterr().out.split("episode lengths")[-1])
    assert lengths[:5] != [150] * 5 and lengths[-5:] == [150] * 5  # it learns
    assert codes(r) == [], [f.observation for f in r.findings]
    assert {rec.get("loss_terms") for rec in r.sections["run"]["steps_record"]} > {150 * 2}


LR_SHAPES = {  # one broken lr per shape, and the same script with a sane lr must stay quiet
    "adam-blows-up-at-step-1": ("""
model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 4))
opt = torch.optim.Adam(model.parameters(), lr=LR)
for i in range(60):
    xb, yb = x[i % 8 * 64:(i % 8 + 1) * 64], y[i % 8 * 64:(i % 8 + 1) * 64]
    opt.zero_grad(); F.cross_entropy(model(xb), yb).backward(); opt.step()
""", "3.0", "1e-3"),
    "rmsprop-tanh": ("""
model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4))
opt = torch.optim.RMSprop(model.parameters(), lr=LR)
for i in range(60):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
""", "10.0", "1e-3"),
    "sgd-summed-loss-goes-non-finite": ("""
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
opt = torch.optim.SGD(model.parameters(), lr=LR)
for i in range(40):
    xb, yb = x[i % 8 * 64:(i % 8 + 1) * 64], y[i % 8 * 64:(i % 8 + 1) * 64]
    opt.zero_grad(); F.cross_entropy(model(xb), yb, reduction="sum").backward(); opt.step()
""", "1.0", "1e-3"),
}


@pytest.mark.parametrize("shape", LR_SHAPES)
def test_lr_too_high_shapes(run_code, shape):
    script, bad, good = LR_SHAPES[shape]
    broken = run_code(body(script.replace("LR", bad)))
    assert codes(broken, ("error",))[0] == "lr-too-high", [f.observation for f in broken.findings]
    assert run_code(body(script.replace("LR", good))).findings == []


def test_lr_too_low(run_code):
    script = body("""
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
opt = torch.optim.Adam(model.parameters(), lr=LR)
for i in range(60):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
""")
    broken = run_code(script.replace("LR", "1e-8"))
    assert codes(broken) == ["lr-too-low"]
    assert broken.findings[0].evidence["median_update_ratio"] < 1e-5
    assert run_code(script.replace("LR", "3e-3")).findings == []


def test_exploding_gradients(run_code):
    script = body("""
model = nn.Linear(10, 4); opt = torch.optim.Adam(model.parameters(), lr=1e-4)
for i in range(40):
    opt.zero_grad(); (F.cross_entropy(model(x), y) * GROWTH ** i).backward(); opt.step()
""")
    broken = run_code(script.replace("GROWTH", "1.3"))
    assert "exploding-gradients" in codes(broken)
    clipped = run_code(script.replace("GROWTH", "1.3").replace("opt.step()", "nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()"))
    assert "exploding-gradients" in codes(clipped)  # judged on the norm before clipping
    measured = [r["grad_norm"] for r in clipped.sections["run"]["steps_record"] if r["grad_norm"] is not None]
    assert len(measured) >= 20 and max(measured) <= 1.0 + 1e-4
    assert run_code(script.replace("GROWTH", "1.0")).findings == []


# ── modes ─────────────────────────────────────────────────────────────────────

def test_train_in_eval_mode(run_code):
    script = body("""
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 4))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
model.eval()
with torch.no_grad():
    model(x)
MODE
for i in range(20):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
""")
    assert codes(run_code(script.replace("MODE", ""))) == ["train-in-eval-mode"]
    assert run_code(script.replace("MODE", "model.train()")).findings == []


def test_eval_with_dropout_only_is_a_warning(run_code):
    r = run_code(body("""
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 4))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for i in range(20):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
    with torch.no_grad():
        model(x)
"""))
    assert [(f.code, f.severity) for f in r.findings] == [("eval-in-train-mode", "warning")]



def test_batch_norm_in_eval_mode_is_judged_by_whether_its_statistics_describe_the_data(run_code):
    script = body("""
raw = x * 50 + 200                               # raw-scale features: batch norm is what standardizes them
model = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
PRETRAIN
model.eval()                                     # frozen batch norm from here on
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for i in range(40):
    opt.zero_grad(); F.cross_entropy(model(raw[:64]), y[:64]).backward(); opt.step()
""")
    pretrain = """
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for i in range(30):
    opt.zero_grad(); F.cross_entropy(model(raw[64:]), y[64:]).backward(); opt.step()
"""
    broken = run_code(script.replace("PRETRAIN", ""))  # from scratch: running statistics still mean 0 / variance 1
    f = broken.findings[0]
    assert (f.code, f.severity) == ("train-in-eval-mode", "error") and f.evidence["never_fitted"] == ["1"]
    frozen = run_code(script.replace("PRETRAIN", pretrain))  # fitted by training first: fine-tuning
    assert codes(frozen) == [] and [f.severity for f in frozen.findings if f.code == "train-in-eval-mode"] == ["info"]


# ── numerics ──────────────────────────────────────────────────────────────────

def test_tanh_called_by_a_hand_written_rnn_pinned_from_the_start(run_code):
    """torch.tanh in a loop, no module to hook: its weights drawn with std 1 pin the state at +-1 from the first
    step and the loss stays at chance; scaled by about 1/sqrt(fan-in) the same loop learns and nothing is said."""
    script = body("""
W_xh = (torch.randn(10, 32) * SCALE).requires_grad_(); W_hh = (torch.randn(32, 32) * SCALE).requires_grad_()
W_hy = (torch.randn(32, 4) * 0.1).requires_grad_()
opt = torch.optim.SGD([W_xh, W_hh, W_hy], lr=0.05, momentum=0.9)
for i in range(60):
    xs = torch.randn(64, 8, 10); h = torch.zeros(64, 32)
    for t in range(8):
        h = torch.tanh(xs[:, t] @ W_xh + h @ W_hh)
    target = (xs[:, 0, 0] > 0).long() + 2 * (xs[:, 0, 1] > 0).long()
    opt.zero_grad(); F.cross_entropy(h @ W_hy, target).backward(); opt.step()
""")
    broken = run_code(script.replace("SCALE", "1.0"))
    f = broken.findings[0]
    assert f.code == "saturated-activations" and f.severity == "error" and f.evidence["calls"][0]["name"] == "tanh", [
        x.observation for x in broken.findings]
    assert codes(run_code(script.replace("SCALE", "0.15"))) == []


def test_a_power_whose_slope_made_the_steps_reads_before_the_rate(run_code):
    """10 ** output against raw prices, under SGD at 1e-5: the first steps are small (under a tenth of the
    weights), then the power's slope grows the gradient and the output overflows. The function is the cause,
    the rate follows; the same model fitted to log10 of the prices trains. An exp whose first steps were
    already large reads the rate first (tests/e2e/test_nonfinite_function.py)."""
    script = body("""
torch.manual_seed(3)
X = torch.randn(1024, 6)
price = 10 ** (2.5 + 0.4 * X[:, 0] - 0.3 * X[:, 1] + 0.1 * torch.randn(1024))
model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 1)); opt = torch.optim.SGD(model.parameters(), lr=1e-5)
for i in range(100):
    idx = torch.randint(0, 1024, (64,))
    PREDICT
    opt.zero_grad(); loss.backward(); opt.step()
""")
    broken = run_code(script.replace("PREDICT", "loss = ((10 ** model(X[idx]).squeeze(1) - price[idx]) ** 2).mean()"))
    first, rate = broken.findings[0], next(f for f in broken.findings if f.code == "lr-too-high")
    assert first.code == "nonfinite-forward" and rate.explained_by == "nonfinite-forward", [
        f.observation for f in broken.findings]
    assert first.evidence["steep"]["ratio_before"] < 0.1 and "not from the learning rate" in first.observation
    healthy = script.replace("PREDICT", "loss = ((model(X[idx]).squeeze(1) - price[idx].log10()) ** 2).mean()")
    assert codes(run_code(healthy.replace("1e-5", "1e-2"))) == []


def test_nonfinite_backward(run_code):
    script = body("""
model = nn.Linear(10, 3, bias=False); opt = torch.optim.SGD(model.parameters(), lr=0.01)
xz = x.clone(); xz[0] = 0                       # a zero row: the distance below is exactly 0
for i in range(10):
    opt.zero_grad()
    d = (model(xz) ** 2).sum(-1)EPS.sqrt()
    d.mean().backward(); opt.step()
""")
    broken = run_code(script.replace("EPS", ""))
    f = broken.findings[0]  # the first step replayed backward: sqrt's derivative at 0 made the NaN
    assert f.code == "nonfinite-backward" and f.evidence["nonfinite_grads"] == ["weight"]
    assert f.evidence["function"]["name"] == "sqrt" and "sqrt" in f.next_step
    assert run_code(script.replace("EPS", ".add(1e-12)")).findings == []


def test_nonfinite_backward_on_an_unrecorded_step(run_code):
    # Step 25 is not recorded (every 4th after the first 20): the NaN gradient shows as NaN
    # weights when the next loss turns, and is still blamed on the backward pass.
    r = run_code(body("""
model = nn.Linear(10, 3, bias=False); opt = torch.optim.SGD(model.parameters(), lr=0.01)
for i in range(40):
    xz = x.clone(); xz[0] = 0 if i == 25 else 1
    opt.zero_grad()
    (model(xz) ** 2).sum(-1).sqrt().mean().backward(); opt.step()
"""))
    f = r.findings[0]
    assert f.code == "nonfinite-backward" and f.evidence["nonfinite_grads"] == ["weight"] and f.location["step"] == 25


def test_batch_mixing_probe_on_sequence_first_models(run_code):
    r = run_code(body("""
model = nn.GRU(10, 8)
opt = torch.optim.Adam(model.parameters())
for i in range(5):
    opt.zero_grad(); model(x.view(16, 32, 10))[0].pow(2).mean().backward(); opt.step()
"""))
    assert r.findings == []
    probe = next(p for p in r.sections["run"]["probes"] if p["name"] == "batch-independence")
    assert probe["status"] == "ran" and probe["batch"] == 32  # (time, batch, features): the batch is dim 1


def test_model_returning_a_dict(run_code):
    script = body("""
class DictNet(nn.Module):
    def __init__(self):
        super().__init__(); self.fc = nn.Linear(10, 4)
    def forward(self, x):
        out = self.fc(x)
        return {"logits": MIX}
model = DictNet(); opt = torch.optim.Adam(model.parameters())
for i in range(5):
    opt.zero_grad(); F.cross_entropy(model(x)["logits"], y).backward(); opt.step()
""")
    healthy = run_code(script.replace("MIX", "out"))
    assert healthy.findings == []
    assert {p["name"]: p["status"] for p in healthy.sections["run"]["probes"]}["batch-independence"] == "ran"
    broken = run_code(script.replace("MIX", "out - out.mean(0)"))  # centring over the batch mixes samples
    assert codes(broken) == ["batch-mixing"]


def test_hand_written_sgd_is_watched_and_stopped(run_code):
    r = run_code(body("""
model = nn.Sequential(nn.Linear(10, 4), nn.Softmax(dim=1))
for i in range(10_000):
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    for p in model.parameters():
        p.data.add_(p.grad, alpha=-0.1)
"""), max_steps=25)
    run = r.sections["run"]
    assert run["stopped"] == "max-steps" and run["steps"] == 0 and run["backward_calls"] == 25
    assert r.findings[0].code == "double-softmax"


def _terms_cases():
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    x, y, z = torch.randn(4, 3, requires_grad=True), torch.randint(0, 3, (4,)), torch.zeros(4, 3)
    return [(F.nll_loss(F.log_softmax(x, 1), y, reduction="sum"), 4), (F.cross_entropy(x, y, reduction="sum"), 4),
            (F.mse_loss(x, z, reduction="sum"), 12), (F.binary_cross_entropy_with_logits(x, z, reduction="sum"), 12),
            (F.cross_entropy(x, y), 1), (sum(F.cross_entropy(x[i:i + 1], y[i:i + 1]) for i in range(3)), 3),
            (x.sum(), 12)]


@pytest.mark.parametrize("case", range(7))
def test_summed_terms_counts_one_term_per_target(case):
    from traindoctor.measure.losses import summed_terms

    loss, terms = _terms_cases()[case]
    assert summed_terms(loss) == terms


def test_averaged_terms_counts_what_a_mean_divides_by():
    import torch
    import torch.nn.functional as F

    from traindoctor.measure.losses import averaged_terms

    x, y = torch.randn(4, 3, requires_grad=True), torch.randint(0, 3, (4,))
    assert [averaged_terms(v) for v in (F.cross_entropy(x, y), F.mse_loss(x, torch.zeros(4, 3)), (x ** 2).mean(),
                                        F.cross_entropy(x, y, reduction="sum"), x.sum())] == [4, 12, 12, None, None]


def test_summed_terms_of_a_freed_graph_is_unknown_not_an_error(run_code):
    """Reading the count needs torch's private saved values, freed by a first backward: a script that
    backpropagates the same loss twice (and handles torch's error) used to stop the whole recording."""
    from traindoctor.measure.losses import summed_terms

    loss = _terms_cases()[0][0]
    loss.backward()
    assert summed_terms(loss) is None
    r = run_code("""
    import torch, torch.nn.functional as F
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 4); o = torch.optim.SGD(m.parameters(), lr=0.1)
    x, y = torch.randn(16, 3), torch.randint(0, 4, (16,))
    for i in range(20):
        o.zero_grad(); loss = F.cross_entropy(m(x), y, reduction="sum"); loss.backward()
        try:
            loss.backward()  # a retry the script expects to fail
        except RuntimeError:
            pass
        o.step()
    """)
    assert r.unchecked == [] and r.sections["run"]["steps"] == 20


def test_a_call_with_args_and_kwargs_gets_the_cheap_probes(run_code):
    script = body("""
class Scaled(nn.Module):
    def __init__(self):
        super().__init__(); self.fc = nn.Linear(10, 4)
    def forward(self, x, *, scale):
        out = self.fc(x) * scale
        return MIX
model = Scaled(); opt = torch.optim.Adam(model.parameters())
for i in range(5):
    opt.zero_grad(); F.cross_entropy(model(x, scale=2.0), y).backward(); opt.step()
""")
    healthy = run_code(script.replace("MIX", "out"))
    statuses = {p["name"]: p["status"] for p in healthy.sections["run"]["probes"]}
    assert healthy.findings == [] and statuses["batch-independence"] == "ran" and "failed" not in statuses.values()
    assert codes(run_code(script.replace("MIX", "out - out.mean(0)"))) == ["batch-mixing"]


def test_clipping_every_step_is_seen_by_run_and_the_monitor(run_code):
    """One rule module (judge/steps/clipping.py), judged after the fact by run and online by the Monitor."""
    script = body("""
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.5)
for i in range(60):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward()
    nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM); opt.step()
""")
    clipped = run_code(script.replace("MAX_NORM", "0.001"))
    # Every step cut to a length of lr x 0.001: the loss does not learn, so the clip is an error in run.
    assert [f.code for f in clipped.findings] == ["clipping-every-step"] and clipped.findings[0].severity == "error"
    assert run_code(script.replace("MAX_NORM", "5.0")).findings == []
    import torch
    import torch.nn.functional as F
    from torch import nn
    from traindoctor import Monitor

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    xs, ys = torch.randn(64, 10), torch.randint(0, 4, (64,))
    with Monitor(model, opt) as mon:
        for _ in range(60):
            opt.zero_grad()
            loss = F.cross_entropy(model(xs), ys)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.001)
            mon.log(loss=loss)
            opt.step()
    assert [f.code for f in mon.report().findings] == ["clipping-every-step"]


def test_zero_initialised_weights_have_no_update_ratio_and_are_not_blamed(run_code):
    """||update|| / ||weights|| has no value when the weights are all zero: recorded as None, not 1e30."""
    broken = run_code(body("""
model = nn.Linear(10, 4); nn.init.zeros_(model.weight); nn.init.zeros_(model.bias)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i in range(30):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
"""))
    first = broken.sections["run"]["steps_record"][0]
    assert first["update_ratio"] is None and "lr-too-high" not in [f.code for f in broken.findings]


SIGN_FLIPS = {  # three ways a loss function ends up climbed
    "negated": "loss = -F.cross_entropy(model(x), y)",
    "one-minus": "loss = 1.0 - nn.CrossEntropyLoss()(model(x), y)",
    "negative-weight": "loss = F.cross_entropy(model(x), y) * -0.5 + 0.01 * sum(p.pow(2).sum() for p in model.parameters())",
}
SIGN_HEALTHY = {  # minus signs that are right: not on a loss function
    "entropy-bonus": "p = model(x).log_softmax(1); loss = F.nll_loss(p, y) - 0.01 * (-(p.exp() * p).sum(1).mean())",
    "policy-gradient": "p = model(x).log_softmax(1); loss = -(p.gather(1, y[:, None]).squeeze(1) * torch.randn(len(y))).mean()",
    "non-saturating-gan": "loss = -torch.log(torch.sigmoid(model(x)[:, 0]) + 1e-8).mean()",
}


@pytest.mark.parametrize("line", list(SIGN_FLIPS.values()) + list(SIGN_HEALTHY.values()), ids=list(SIGN_FLIPS) + list(SIGN_HEALTHY))
def test_a_loss_function_climbed_by_the_optimizer(run_code, line):
    report = run_code(body(f"""
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for i in range(30):
    opt.zero_grad(); {line}; loss.backward(); opt.step()
"""))
    flagged = "loss-sign-flipped" in codes(report)
    assert flagged == (line in SIGN_FLIPS.values()), [f.observation for f in report.findings]
    if flagged:
        assert report.findings[0].code == "loss-sign-flipped"


def loop_with(line, *, model="nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))", steps=20):
    return body(f"""
model = {model}
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for i in range(STEPS):
    opt.zero_grad(); {line}; loss.backward(); opt.step()
""".replace("STEPS", str(steps)))


WRONG_KIND = {  # (model, loss line, the code a loss fed the wrong kind of value gets; None: healthy)
    "bce-on-class-ids": ("nn.Linear(10, 1)", "loss = F.binary_cross_entropy_with_logits(model(x)[:, 0], (y % 3).float())", "target-out-of-range"),
    "bce-on-pixels": ("nn.Linear(10, 4)", "loss = F.binary_cross_entropy_with_logits(model(x), x[:, :4].abs() * 255)", "target-out-of-range"),
    "bce-on-signs": ("nn.Linear(10, 1)", "loss = nn.BCEWithLogitsLoss()(model(x)[:, 0], torch.where(y > 1, 1.0, -1.0))", "target-out-of-range"),
    "bce-smoothed": ("nn.Linear(10, 1)", "loss = F.binary_cross_entropy_with_logits(model(x)[:, 0], (y > 1).float() * 0.8 + 0.1)", None),
    "sigmoid-regression-to-40": ("nn.Sequential(nn.Linear(10, 1), nn.Sigmoid())", "loss = F.mse_loss(model(x), 40 * x[:, :1].abs())", "output-range-mismatch"),
    "tanh-l1-to-5": ("nn.Sequential(nn.Linear(10, 1), nn.Tanh())", "loss = F.l1_loss(model(x), 5 * x[:, :1].abs() + 1)", "output-range-mismatch"),
    "relu-huber-negative": ("nn.Sequential(nn.Linear(10, 1), nn.ReLU())", "loss = F.smooth_l1_loss(model(x), -1 - x[:, :1].abs())", "output-range-mismatch"),
    "sigmoid-regression-to-unit": ("nn.Sequential(nn.Linear(10, 1), nn.Sigmoid())", "loss = F.mse_loss(model(x), torch.sigmoid(x[:, :1]))", None),
    "relu-regression-positive": ("nn.Sequential(nn.Linear(10, 1), nn.ReLU())", "loss = F.mse_loss(model(x), x[:, :1].abs())", None),
    "relu-logits-module": ("nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4), nn.ReLU())", "loss = nn.CrossEntropyLoss()(model(x), y)", "activation-on-logits"),
    "relu-logits-functional": ("nn.Linear(10, 4)", "loss = F.cross_entropy(F.relu(model(x)), y)", "activation-on-logits"),
    "relu6-logits-bce": ("nn.Sequential(nn.Linear(10, 1), nn.ReLU6())", "loss = F.binary_cross_entropy_with_logits(model(x)[:, 0], (y > 1).float())", "activation-on-logits"),
    "sigmoid-logits": ("nn.Linear(10, 4)", "loss = F.cross_entropy(torch.sigmoid(model(x)), y)", "activation-on-logits"),
    "logits-clamped-wide": ("nn.Linear(10, 4)", "loss = F.cross_entropy(model(x).clamp(-50, 50), y)", None),
    "relu-hidden-only": ("nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))", "loss = F.cross_entropy(model(x), y)", None),
}


@pytest.mark.parametrize("case", WRONG_KIND)
def test_a_loss_fed_the_wrong_kind_of_value(run_code, case):
    model, line, expected = WRONG_KIND[case]
    found = codes(run_code(loop_with(line, model=model)))
    assert (found[:1] == [expected]) if expected else not {"target-out-of-range", "output-range-mismatch",
                                                            "activation-on-logits"} & set(found), found


@pytest.mark.parametrize("line", [
    "loss = torch.tensor(F.cross_entropy(model(x), y).item(), requires_grad=True)",
    "loss = torch.tensor(float(F.cross_entropy(model(x), y)), requires_grad=True)",
    "loss = torch.as_tensor(F.cross_entropy(model(x), y).detach().numpy()).requires_grad_()",
    # the predictions, not the loss, rebuilt: the loss has a graph, which reaches no weight
    "loss = F.mse_loss(torch.tensor([o.sum().item() for o in model(x)], requires_grad=True), y.float())",
    "loss = F.cross_entropy(torch.tensor(model(x).tolist(), requires_grad=True), y)",
    "loss = F.cross_entropy(torch.from_numpy(model(x).detach().numpy()).requires_grad_() * 2, y)",
])
def test_backward_on_a_loss_rebuilt_from_a_number(run_code, line):
    report = run_code(loop_with(line))
    assert report.findings[0].code == "graph-break"


def test_a_loss_that_keeps_its_graph_is_no_graph_break(run_code):
    healthy = run_code(loop_with("loss = F.cross_entropy(model(x), y) + torch.tensor(0.0)"))
    assert "graph-break" not in codes(healthy)
    # numbers taken out for a log, beside a loss that keeps its graph
    logged = run_code(loop_with("out = model(x); acc = torch.tensor([o.argmax().item() for o in out]).eq(y).float(); "
                                "loss = F.cross_entropy(out, y) + 0 * torch.tensor(acc.mean().item(), requires_grad=True)"))
    assert "graph-break" not in codes(logged)


COPY_LM = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
data = torch.randint(0, 12, (64, 11))
class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.rnn, self.out = nn.Embedding(12, 16), nn.GRU(16, 16, batch_first=True), nn.Linear(16, 12)
    def forward(self, tokens):
        return self.out(self.rnn(self.emb(tokens))[0])
model = Decoder(); opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for i in range(40):
    x, y = INPUTS, TARGETS
    loss = F.cross_entropy(model(x).reshape(-1, 12), y.reshape(-1))
    opt.zero_grad(); loss.backward(); opt.step()
"""


@pytest.mark.parametrize("inputs,targets,leaks", [
    ("data[:, 1:]", "data[:, 1:]", True),            # teacher forcing fed the targets themselves
    ("data[:, :-1]", "data[:, :-1].clone()", True),  # next-token targets never shifted
    ("data[:, :-1]", "data[:, 1:]", False),          # a correct next-token model (causal by construction)
])
def test_run_finds_targets_the_model_can_copy(run_code, inputs, targets, leaks):
    """Default `run`: the cheap probes get the targets the loss received; the target-copy experiment decides."""
    report = run_code(COPY_LM.replace("INPUTS", inputs).replace("TARGETS", targets))
    assert ("label-leakage" in codes(report)) == leaks, [f.observation for f in report.findings]
    if not leaks:
        assert codes(report) == []


def test_one_closure_step_is_not_evidence_of_unused_parameters(run_code):
    """LBFGS computes its gradients inside step(), in the closure: a run of one such step has nothing to
    say about parameters that never receive a gradient."""
    report = run_code(body("""
model = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 4))
opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=10)
def closure():
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss
opt.step(closure)
"""))
    assert "optimizer-params-unused" not in [f.code for f in report.findings]


def test_a_module_that_redefines_train_is_still_probed(run_code):
    """A forward-forward layer's `train(x_pos, x_neg)` is the script's own method: copies are put in eval mode
    through each module's flag, and the report does not blame the copy."""
    report = run_code(body("""
class Layer(nn.Linear):
    def train(self, x_pos, x_neg):  # the script's training routine, not nn.Module.train(mode)
        return None
model = nn.Sequential(Layer(10, 32), nn.ReLU(), nn.Linear(32, 4))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for i in range(40):
    opt.zero_grad(); F.cross_entropy(model(x), y).backward(); opt.step()
"""))
    assert not any("deep-copied" in u for u in report.unchecked), report.unchecked
    assert report.sections["run"]["probes"] and all(p["status"] != "failed" for p in report.sections["run"]["probes"])


# ── the step budget ───────────────────────────────────────────────────────────

TWO_PLAYERS = """
import torch, torch.nn as nn
torch.manual_seed(0)
g, d = nn.Linear(4, 4), nn.Linear(4, 1)
og, od = torch.optim.Adam(g.parameters(), 1e-3), torch.optim.Adam(d.parameters(), 1e-3)
for i in range(100):
    od.zero_grad(); d(g(torch.randn(8, 4)).detach()).mean().backward(); od.step()
    og.zero_grad(); (-d(g(torch.randn(8, 4)))).mean().backward(); og.step()
    print("iteration", i)
"""


def test_the_step_budget_counts_iterations_of_a_two_optimizer_loop(run_code, capsys):
    # Counting both players' steps had watched a GAN or an actor-critic for half the iterations.
    r = run_code(TWO_PLAYERS, max_steps=10)
    # The critic's tenth step ends the run, inside the tenth iteration: 10 + 9 steps.
    assert r.sections["run"]["stopped"] == "max-steps" and r.sections["run"]["steps"] == 19
    out = capsys.readouterr().out
    assert "iteration 8" in out and "iteration 9" not in out


def test_an_optimizer_recreated_over_the_same_parameters_counts_on(run_code):
    r = run_code("""
import torch, torch.nn as nn
model = nn.Linear(4, 1)
for epoch in range(10):
    opt = torch.optim.SGD(model.parameters(), 0.01)
    for i in range(5):
        opt.zero_grad(); model(torch.randn(8, 4)).pow(2).mean().backward(); opt.step()
""", max_steps=12)
    assert r.sections["run"]["stopped"] == "max-steps" and r.sections["run"]["steps"] == 12


def test_all_optimizers_together_stop_at_twice_the_budget(run_code):
    r = run_code("""
import torch, torch.nn as nn
layers = [nn.Linear(4, 4) for _ in range(5)]
model = nn.Sequential(*layers)
opts = [torch.optim.SGD(l.parameters(), 0.01) for l in layers]  # an optimizer per layer
for i in range(50):
    for o in opts: o.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    for o in opts: o.step()
""", max_steps=10)
    assert r.sections["run"]["stopped"] == "max-steps" and r.sections["run"]["steps"] == 20


CELL_LOOP = """
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
cell, head = nn.GRUCell(2, 16), nn.Linear(16, 2)
opt = torch.optim.Adam([*cell.parameters(), *head.parameters()], lr=3e-3)
h = torch.zeros(8, 16)
for i in range(6):
    bits = torch.randint(2, (6, 8))
    x, y = F.one_hot(bits, 2).float(), bits.roll(2, 0)
    h = h.detach()
    loss = 0
    for t in range(6):
        h = cell(x[t], h)
        loss = loss + F.cross_entropy(head(h), y[t])
        CUT
    opt.zero_grad(); loss.backward(); opt.step()
"""


def test_a_recurrent_state_detached_inside_the_loop_over_time(run_code):
    """Each call's state cut from the next within one step: no gradient through time; detached between
    steps only (truncated BPTT), it is healthy."""
    broken = run_code(CELL_LOOP.replace("CUT", "h = h.detach()"))
    assert codes(broken)[:1] == ["graph-break"] and broken.findings[0].evidence["model"] == "GRUCell"
    assert "graph-break" not in codes(run_code(CELL_LOOP.replace("CUT", "pass")))
