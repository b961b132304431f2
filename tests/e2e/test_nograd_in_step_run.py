"""`traindoctor run` with its defaults on no-grad forward passes with batch norm or dropout in training mode:
a pass that is part of the training step (a BYOL target network, a MoCo key encoder, a teacher, a DQN target
computed before the online forward, pseudo-labels from the model itself) is quiet; an evaluation is
`eval-in-train-mode` — after training, between epochs, or every 50 steps inside the loop, whether the model
evaluated is the one trained or a copy of it."""
import pytest

from conftest import codes

PRELUDE = """
import torch, torch.nn as nn, torch.nn.functional as F, copy
torch.manual_seed(0)
X = torch.randn(4, 12)[torch.randint(0, 4, (600,))] + 0.5 * torch.randn(600, 12); Y = (X[:, 0] > 0).long()
def net(out=2, layer=nn.BatchNorm1d(32)):
    return nn.Sequential(nn.Linear(12, 32), layer, nn.ReLU(), nn.Linear(32, out))
def batch():
    return torch.randint(0, 500, (32,))
"""

BYOL = """
online, predictor = net(8), nn.Sequential(nn.Linear(8, 8))
target = copy.deepcopy(online)
for p in target.parameters(): p.requires_grad_(False)
opt = torch.optim.Adam([*online.parameters(), *predictor.parameters()], 1e-3)
for step in range(60):
    x = X[batch()]; v1, v2 = x + 0.3 * torch.randn_like(x), x + 0.3 * torch.randn_like(x)
    p1 = predictor(online(v1))
    with torch.no_grad(): t2 = target(v2)
    loss = 2 - 2 * F.cosine_similarity(p1, t2, dim=-1).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        for po, pt in zip(online.parameters(), target.parameters()): pt.mul_(0.99).add_(po, alpha=0.01)
"""

MOCO = """
q_enc = net(8); k_enc = copy.deepcopy(q_enc)
for p in k_enc.parameters(): p.requires_grad_(False)
opt = torch.optim.SGD(q_enc.parameters(), 0.05, momentum=0.9); queue = F.normalize(torch.randn(64, 8), dim=1)
for step in range(60):
    x = X[batch()]
    with torch.no_grad(): k = F.normalize(k_enc(x + 0.3 * torch.randn_like(x)), dim=1)
    q = F.normalize(q_enc(x + 0.3 * torch.randn_like(x)), dim=1)
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.t()], 1) / 0.2
    loss = F.cross_entropy(logits, torch.zeros(32, dtype=torch.long))
    opt.zero_grad(); loss.backward(); opt.step(); queue = torch.cat([k, queue])[:64]
"""

DISTILL = """
teacher = net(); topt = torch.optim.Adam(teacher.parameters(), 1e-2)
for i in range(30):
    b = batch(); topt.zero_grad(); F.cross_entropy(teacher(X[b]), Y[b]).backward(); topt.step()
student = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2)); opt = torch.optim.Adam(student.parameters(), 1e-2)
for step in range(40):
    b = batch()
    with torch.no_grad(): soft = F.softmax(teacher(X[b]) / 2, 1)
    loss = F.kl_div(F.log_softmax(student(X[b]) / 2, 1), soft, reduction="batchmean")
    opt.zero_grad(); loss.backward(); opt.step()
"""

DQN = """
qnet = net(4); tnet = copy.deepcopy(qnet); opt = torch.optim.Adam(qnet.parameters(), 1e-3)
A = torch.randint(0, 4, (600,)); R = Y.float() * (A == 1).float()
for step in range(60):
    b = batch()
    with torch.no_grad(): y = R[b] + 0.9 * tnet(X[b] + 0.1).max(1).values
    loss = F.smooth_l1_loss(qnet(X[b]).gather(1, A[b, None]).squeeze(1), y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 20 == 0: tnet.load_state_dict(qnet.state_dict())
"""

PSEUDO_LABELS = """
model = net(); opt = torch.optim.Adam(model.parameters(), 1e-3)
for step in range(60):
    b = batch(); strong = model(X[b] + 0.5 * torch.randn(32, 12))
    with torch.no_grad(): pl = model(X[b]).argmax(1)
    loss = F.cross_entropy(strong, pl) + F.cross_entropy(model(X[b[:8]]), Y[b[:8]])
    opt.zero_grad(); loss.backward(); opt.step()
"""

# The trained model's own pass before its training forward: what it computes feeds the loss, as the
# next actions of a double DQN, pseudo-labels drawn first (FixMatch) or a consistency target.
DOUBLE_DQN = """
qnet = net(4, nn.Dropout(0.1)); tnet = copy.deepcopy(qnet); opt = torch.optim.Adam(qnet.parameters(), 1e-3)
A = torch.randint(0, 4, (600,)); R = Y.float() * (A == 1).float(); D = (torch.rand(600) < 0.1).float()
for step in range(60):
    b = batch()
    with torch.no_grad():
        a2 = qnet(X[b] + 0.1).argmax(1, keepdim=True)
        y = R[b] + 0.9 * (1 - D[b]) * tnet(X[b] + 0.1).gather(1, a2).squeeze(1)
    loss = F.smooth_l1_loss(qnet(X[b]).gather(1, A[b, None]).squeeze(1), y)
    opt.zero_grad(); loss.backward(); opt.step()
    if step % 20 == 0: tnet.load_state_dict(qnet.state_dict())
"""

PSEUDO_LABELS_FIRST = """
model = net(); opt = torch.optim.SGD(model.parameters(), 0.05, momentum=0.9)
for step in range(60):
    b, u = batch(), torch.randint(0, 600, (64,))
    with torch.no_grad():
        conf, pl = F.softmax(model(X[u] + 0.05 * torch.randn(64, 12)), 1).max(1)
        keep = (conf > 0.8).float()
    unsup = (F.cross_entropy(model(X[u] + 0.5 * torch.randn(64, 12)), pl, reduction="none") * keep).mean()
    loss = F.cross_entropy(model(X[b]), Y[b]) + unsup
    opt.zero_grad(); loss.backward(); opt.step()
"""

CONSISTENCY_TARGET = """
model = net(layer=nn.Dropout(0.3)); opt = torch.optim.Adam(model.parameters(), 1e-3)
for step in range(60):
    b = batch()
    with torch.no_grad():
        target = F.softmax(model(X[b]), 1)
    out = model(X[b] + 0.2 * torch.randn(32, 12))
    loss = F.cross_entropy(out, Y[b]) + F.mse_loss(F.softmax(out, 1), target)
    opt.zero_grad(); loss.backward(); opt.step()
"""

CLASSIFIER = """
model = net(layer=LAYER); opt = torch.optim.Adam(model.parameters(), 1e-3)
for step in range(60):
    b = batch(); loss = F.cross_entropy(model(X[b]), Y[b]); opt.zero_grad(); loss.backward(); opt.step()
"""

EVAL_AFTER = CLASSIFIER + """
with torch.no_grad():
    acc = sum((model(X[i:i + 25]).argmax(1) == Y[i:i + 25]).sum().item() for i in range(500, 600, 25)) / 100
print("val acc", acc)
"""

EVAL_EACH_EPOCH = """
model = net(layer=nn.Dropout(0.5)); opt = torch.optim.Adam(model.parameters(), 1e-3)
for epoch in range(3):
    for i in range(0, 480, 32):
        loss = F.cross_entropy(model(X[i:i + 32]), Y[i:i + 32]); opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad(): print(epoch, (model(X[500:]).argmax(1) == Y[500:]).float().mean().item())
"""

VALIDATE_EVERY_50 = CLASSIFIER.replace("opt.step()", """opt.step()
    if step % 50 == 0:
        with torch.no_grad(): print(step, F.cross_entropy(EVALUATED(X[500:]), Y[500:]).item())""")

EMA = """
ema = copy.deepcopy(model)
for p in ema.parameters(): p.requires_grad_(False)
"""

# A mean teacher: an EMA of the student, never trained itself, whose passes in training mode give the
# consistency targets every step; its accuracy is printed every 20 steps in the same mode.
MEAN_TEACHER = """
student = net(layer=LAYER); teacher = copy.deepcopy(student)
for p in teacher.parameters(): p.requires_grad_(False)
opt = torch.optim.Adam(student.parameters(), 1e-3)
for step in range(60):
    b = batch(); loss = F.cross_entropy(student(X[b]), Y[b])
    with torch.no_grad(): target = F.softmax(teacher(X[b] + 0.1), 1)
    loss = loss + F.mse_loss(F.softmax(student(X[b] + 0.1), 1), target)
    opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        for ps, pt in zip(student.parameters(), teacher.parameters()): pt.mul_(0.99).add_(ps, alpha=0.01)
        if step % 20 == 0: print((teacher(X[500:]).argmax(1) == Y[500:]).float().mean().item())
"""

CASES = {  # script, error expected
    "byol-target-network": (BYOL, None),
    "moco-key-encoder-before-the-query": (MOCO, None),
    "frozen-teacher-trained-earlier": (DISTILL, None),
    "dqn-target-before-the-online-forward": (DQN, None),
    "pseudo-labels-inside-the-forward": (PSEUDO_LABELS, None),
    "eval-after-training-batch-norm": (EVAL_AFTER.replace("LAYER", "nn.BatchNorm1d(32)"), "error"),
    "eval-after-training-dropout": (EVAL_AFTER.replace("LAYER", "nn.Dropout(0.5)"), "warning"),
    "eval-after-training-dropout-p0": (EVAL_AFTER.replace("LAYER", "nn.Dropout(0.0)"), None),  # drops nothing
    # The teacher's dropout is the method's noise, its passes all in that mode; batch norm's evaluation in
    # training mode still overwrites the statistics the targets use.
    "mean-teacher-dropout-evaluated": (MEAN_TEACHER.replace("LAYER", "nn.Dropout(0.2)"), None),
    "mean-teacher-batch-norm-evaluated": (MEAN_TEACHER.replace("LAYER", "nn.BatchNorm1d(32)"), "error"),
    "eval-each-epoch-dropout": (EVAL_EACH_EPOCH, "warning"),
    "validate-every-50-steps": (VALIDATE_EVERY_50.replace("LAYER", "nn.BatchNorm1d(32)").replace("EVALUATED", "model"), "error"),
    "ema-copy-validated-every-50-steps": (VALIDATE_EVERY_50.replace("LAYER", "nn.BatchNorm1d(32)").replace(
        "for step", EMA.strip() + "\nfor step").replace("EVALUATED", "ema"), "error"),
    "byol-target-evaluated-after-training": (BYOL + "with torch.no_grad(): print(target(X[500:]).std().item())\n", "error"),
    "double-dqn-next-actions-before-the-forward": (DOUBLE_DQN, None),
    "pseudo-labels-before-the-forward": (PSEUDO_LABELS_FIRST, None),
    "consistency-target-before-the-forward": (CONSISTENCY_TARGET, None),
    # Its outputs reach no loss: a validation pass, wherever it sits in the step and whatever else runs.
    "validation-before-the-forward": (CLASSIFIER.replace("LAYER", "nn.BatchNorm1d(32)").replace(
        "b = batch();", "b = batch()\n    with torch.no_grad(): val = F.cross_entropy(model(X[500:]), Y[500:]).item()\n   "),
        "error"),
    "double-dqn-validated-every-20-steps": (DOUBLE_DQN.replace("    if step % 20 == 0:", """    if step % 20 == 5:
        with torch.no_grad(): print(qnet(X[500:]).max(1).values.mean().item())
    if step % 20 == 0:"""), "warning"),
}


@pytest.mark.parametrize("name", CASES)
def test_a_no_grad_pass_in_training_mode(run_code, name):
    script, severity = CASES[name]
    r = run_code(PRELUDE + script)
    found = [f for f in r.findings if f.code == "eval-in-train-mode"]
    assert [f.severity for f in found] == ([severity] if severity else []), [(f.code, f.observation) for f in r.findings]
    assert all(f.location.get("line") for f in found)


def test_only_the_evaluation_counts_when_a_target_network_is_also_evaluated(run_code):
    r = run_code(PRELUDE + CASES["byol-target-evaluated-after-training"][0])
    found, = [f for f in r.findings if f.code == "eval-in-train-mode"]
    assert (found.evidence["calls"], found.evidence["in_training_step"]) == (1, 60)
    assert found.location["line"] == len((PRELUDE + BYOL).splitlines()) + 1
