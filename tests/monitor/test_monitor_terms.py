"""The Monitor with a log_dir (its documented configuration) and the loss's terms logged separately:
`mon.log(loss=loss, terms={...})` before backward(). A term drowned by orders of magnitude and terms that
cancel from the first sampled steps are named; balanced terms, a deliberately weighted auxiliary loss given
as (weight, term) and terms logged after backward() (not measurable: one warning) are not findings."""
import json
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import traindoctor


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(8, 32), nn.ReLU())
        self.cls, self.reg = nn.Linear(32, 2), nn.Linear(32, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.cls(h), self.reg(h).squeeze(-1)


def _two_heads(tmp_path, price_scale, aux_weight=1.0, weighted_tuple=False, after_backward=False, steps=60):
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    label, price = (x[:, 0] > 0).long(), price_scale * x[:, 1]
    net = TwoHeads()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    with traindoctor.Monitor(net, opt, log_dir=tmp_path) as mon:
        for step in range(steps):
            i = (step * 32) % 512
            logits, pred = net(x[i:i + 32])
            mse, ce = F.mse_loss(pred, price[i:i + 32]), F.cross_entropy(logits, label[i:i + 32])
            terms = {"mse": mse, "ce": (aux_weight, ce) if weighted_tuple else aux_weight * ce}
            loss = mse + aux_weight * ce
            if not after_backward:
                mon.log(loss=loss, terms=terms)
            opt.zero_grad()
            loss.backward()
            if after_backward:
                mon.log(loss=loss, terms=terms)
            opt.step()
    return mon.report()


def _opposed(tmp_path, kind):
    torch.manual_seed(0)
    x = torch.randn(512, 6)
    y = x[:, :2].sum(1, keepdim=True)
    net = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    with traindoctor.Monitor(net, opt, log_dir=tmp_path) as mon:
        for step in range(40):
            out = net(x[(step * 32) % 512:(step * 32) % 512 + 32])
            target = y[(step * 32) % 512:(step * 32) % 512 + 32]
            if kind == "subtracted":
                terms = {"fit": F.mse_loss(out, target), "smooth": -0.8 * F.mse_loss(out, target + 0.05)}
            elif kind == "opposite-targets":
                terms = {"fit": F.mse_loss(out, target), "mirror": F.mse_loss(out, -target)}
            elif kind == "output-penalty":
                terms = {"fit": F.mse_loss(out, target), "shrink": 0.1 * out.pow(2).mean()}
            else:  # aligned
                terms = {"mse": F.mse_loss(out, target), "l1": 0.5 * F.l1_loss(out, target)}
            loss = sum(terms.values())
            mon.log(loss=loss, terms=terms)
            opt.zero_grad(); loss.backward(); opt.step()
    return mon.report()


def _codes(report):
    return [f.code for f in report.findings]


@pytest.mark.parametrize("scale", [3000.0, 1e4])
def test_a_drowned_term_is_named_and_the_terms_are_in_the_log(tmp_path, scale):
    report = _two_heads(tmp_path, scale)
    assert "loss-imbalance" in _codes(report)
    f = next(f for f in report.findings if f.code == "loss-imbalance")
    assert f.evidence["term"] == "ce" and f.source == "monitor"
    lines = [json.loads(line) for line in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert all("term/ce" in r for r in lines if "step" in r and "loss" in r)
    assert any("term_grad/ce" in r for r in lines)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert "loss-imbalance" in [f["code"] for f in saved["findings"]]


@pytest.mark.parametrize("kind", ["subtracted", "opposite-targets"])
def test_terms_that_cancel_from_the_start_are_named(tmp_path, kind):
    report = _opposed(tmp_path, kind)
    assert "loss-conflict" in _codes(report), report.findings


def test_balanced_aligned_and_deliberately_weighted_terms_stay_quiet(tmp_path):
    for sub, report in [("balanced", _two_heads(tmp_path / "a", 2.0)),
                        ("aux-0.01", _two_heads(tmp_path / "b", 2.0, aux_weight=1e-4, weighted_tuple=True)),
                        ("aligned", _opposed(tmp_path / "c", "aligned")),
                        ("output-penalty", _opposed(tmp_path / "d", "output-penalty"))]:
        assert not {"loss-imbalance", "loss-conflict"} & set(_codes(report)), (sub, report.findings)


def test_terms_logged_after_backward_are_recorded_but_not_measured(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = _two_heads(tmp_path, 3000.0, after_backward=True, steps=20)
    assert [str(w.message) for w in caught if "before backward" in str(w.message)]
    assert "loss-imbalance" not in _codes(report) and not report.unchecked
    lines = [json.loads(line) for line in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert any("term/ce" in r for r in lines) and not any("term_grad/ce" in r for r in lines)


def test_logging_terms_leaves_the_gradients_and_the_losses_unchanged(tmp_path):
    def losses(with_terms):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x, y, out = torch.randn(64, 4), torch.randn(64, 1), []
        with traindoctor.Monitor(net, opt, log_dir=tmp_path / str(with_terms), sample_every=1) as mon:
            for _ in range(5):
                p = net(x)
                a, b = F.mse_loss(p, y), 0.1 * p.abs().mean()
                if with_terms:
                    mon.log(terms={"a": a, "b": b})
                opt.zero_grad(); (a + b).backward(); opt.step()
                out.append(float((a + b).detach()))
        return out
    assert losses(True) == losses(False)


def _vae(tmp_path):
    torch.manual_seed(0)
    data = torch.rand(512, 20)
    enc, dec = nn.Linear(20, 8), nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 20))
    model = nn.ModuleDict({"enc": enc, "dec": dec})
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with traindoctor.Monitor(model, opt, log_dir=tmp_path) as mon:
        for step in range(80):
            x = data[(step * 32) % 512:(step * 32) % 512 + 32]
            mu, logvar = enc(x).chunk(2, dim=1)
            recon = dec(mu + torch.randn_like(mu) * (0.5 * logvar).exp())
            rec = F.binary_cross_entropy_with_logits(recon, x, reduction="sum") / len(x)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
            mon.log(loss=rec + kl, terms={"recon": rec, "kl": kl})
            opt.zero_grad(); (rec + kl).backward(); opt.step()
    return mon.report()


def _policy_with_entropy_bonus(tmp_path):
    torch.manual_seed(0)
    obs = torch.randn(512, 4)
    good = (obs[:, 0] > 0).long()
    policy = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2))
    opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
    with traindoctor.Monitor(policy, opt, log_dir=tmp_path) as mon:
        for step in range(80):
            i = (step * 32) % 512
            dist = torch.distributions.Categorical(logits=policy(obs[i:i + 32]))
            action = dist.sample()
            reward = (action == good[i:i + 32]).float()
            pg = -(dist.log_prob(action) * (reward - reward.mean())).mean()
            bonus = -0.01 * dist.entropy().mean()
            mon.log(loss=pg + bonus, terms={"policy": pg, "entropy_bonus": bonus})
            opt.zero_grad(); (pg + bonus).backward(); opt.step()
    return mon.report()


@pytest.mark.parametrize("loop", [_vae, _policy_with_entropy_bonus])
def test_a_vae_kl_and_an_entropy_bonus_are_not_findings(tmp_path, loop):
    report = loop(tmp_path)
    assert not {"loss-imbalance", "loss-conflict"} & set(_codes(report)), report.findings
    lines = [json.loads(line) for line in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert sum(any(k.startswith("term_grad/") for k in r) for r in lines) == 8  # steps 0, 10, ..., 70
