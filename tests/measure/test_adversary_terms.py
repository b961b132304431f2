"""Two players stepped by one optimizer, measured without a run (measure/adversaries.py + judge/adversaries.py):
a summed loss read term by term, a player fed through a new tensor, an actor's -Q applied to its critic.
Healthy look-alikes keep each player's objective to itself, or cooperate."""
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F

from traindoctor.judge.adversaries import check
from traindoctor.measure.adversaries import Adversaries


class Watch:
    """Feeds Adversaries as the Recorder does: model calls, backward() before the script's, optimizer steps."""

    def __init__(self, *models):
        self.adv, self.models, self.n = Adversaries(), models, 0
        for m in models:
            m.register_forward_pre_hook(lambda mod, args: self.adv.called(mod, args, {}))
            m.register_forward_hook(lambda mod, args, out: self.adv.returned(mod, out))

    def backward(self, loss, retain=False):
        self.adv.backward(loss, self.n, lambda: {"line": 1})
        loss.backward(retain_graph=retain)

    def step(self, *opts):
        for opt in opts:
            self.adv.stepped(opt, lambda: {id(m): {id(p) for p in m.parameters()} for m in self.models})
            opt.step()
        self.adv.step_ended()
        self.n += 1

    def codes(self):
        rec = SimpleNamespace(roots={id(m): SimpleNamespace(module=m) for m in self.models}, adversaries=self.adv,
                              source="run")
        return [f.code for f in check(rec)]


def mlp(i, o):
    return nn.Sequential(nn.Linear(i, 16), nn.ReLU(), nn.Linear(16, o))


def ddpg(summed=False, two_optimizers=False, frozen=False, steps=16):
    torch.manual_seed(0)
    actor, critic = nn.Sequential(mlp(3, 1), nn.Tanh()), mlp(4, 1)
    w = Watch(actor, critic)
    if two_optimizers:
        opt_a, opt_c = torch.optim.Adam(actor.parameters(), 1e-3), torch.optim.Adam(critic.parameters(), 1e-3)
    else:
        opt_a = opt_c = torch.optim.Adam([*actor.parameters(), *critic.parameters()], 1e-3)
    for _ in range(steps):
        s, a = torch.randn(32, 3), torch.rand(32, 1) * 2 - 1
        y = -(a - s[:, :1].tanh()) ** 2
        critic_loss = F.mse_loss(critic(torch.cat([s, a], 1)), y)
        if not summed:
            opt_c.zero_grad(); w.backward(critic_loss); w.step(opt_c)
        critic.requires_grad_(not frozen)
        actor_loss = -critic(torch.cat([s, actor(s)], 1)).mean()  # the actor's action enters through a new tensor
        critic.requires_grad_(True)
        opt_a.zero_grad()
        w.backward(actor_loss + critic_loss if summed else actor_loss)
        w.step(opt_a)
    return w.codes()


def test_an_actors_q_stepping_its_critic_is_named():
    assert ddpg() == ["game-shared-optimizer"]
    assert ddpg(summed=True) == ["game-shared-optimizer"]


def test_an_actor_and_critic_kept_apart_are_not():
    assert ddpg(two_optimizers=True) == []
    assert ddpg(frozen=True) == []


def gan(one_call_summed=False, zero_d=False, steps=16):
    """A conditional GAN: the condition is concatenated to the samples, D scores 2-D points."""
    torch.manual_seed(0)
    G, D = mlp(4, 2), mlp(3, 1)
    w = Watch(G, D)
    opt = torch.optim.Adam([*G.parameters(), *D.parameters()], 1e-3)
    for _ in range(steps):
        c = torch.randint(0, 2, (32, 1)).float()
        real = torch.cat([c * 2 - 1 + 0.1 * torch.randn(32, 1), torch.randn(32, 1) * 0.1, c], 1)
        fake = torch.cat([G(torch.cat([torch.randn(32, 3), c], 1)), c], 1)
        if one_call_summed:  # both players' losses on the one score of attached fakes
            s_fake, s_real = D(fake), D(real)
            loss = F.softplus(-s_real).mean() + F.softplus(s_fake).mean() + F.softplus(-s_fake).mean()
            opt.zero_grad(); w.backward(loss); w.step(opt)
            continue
        loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt.zero_grad(); w.backward(loss_d); w.step(opt)
        loss_g = F.softplus(-D(fake)).mean()
        opt.zero_grad(); w.backward(loss_g)
        if zero_d:
            D.zero_grad()
        w.step(opt)
    return w.codes()


def test_both_players_losses_on_one_score_of_fakes_through_a_new_tensor_are_named():
    assert gan(one_call_summed=True) == ["game-shared-optimizer"]


def test_a_shared_optimizer_with_d_zeroed_before_the_generators_step_is_not():
    assert gan(zero_d=True) == []


def test_cooperating_models_are_not():
    """Actor-critic heads on one trunk with one summed loss: one objective."""
    torch.manual_seed(0)
    trunk, policy, value = mlp(3, 8), nn.Linear(8, 3), nn.Linear(8, 1)
    w = Watch(trunk, policy, value)
    opt = torch.optim.Adam([*trunk.parameters(), *policy.parameters(), *value.parameters()], 1e-3)
    for _ in range(16):
        s = torch.randn(32, 3)
        h = trunk(s)
        dist = torch.distributions.Categorical(logits=policy(h))
        a = dist.sample()
        r = (a == 0).float()
        v = value(h).squeeze(1)
        loss = -(dist.log_prob(a) * (r - v.detach())).mean() + F.mse_loss(v, r)
        opt.zero_grad(); w.backward(loss); w.step(opt)
    assert w.codes() == []


def denoiser_and_classifier(steps=16):
    """A classifier fit on clean inputs and on a denoiser's output, the denoiser trained through it: cooperating
    models under one optimizer. The classifier's loss pulls its score of the denoised inputs up for one label and
    down for the other; the average over a batch has either sign."""
    torch.manual_seed(0)
    den, clf = mlp(4, 4), mlp(4, 1)
    w = Watch(den, clf)
    opt = torch.optim.Adam([*den.parameters(), *clf.parameters()], 1e-2)
    for _ in range(steps):
        x = torch.randn(32, 4)
        y = (x[:, :1] > 0).float()
        clean = den(x + 0.3 * torch.randn(32, 4))
        loss = (F.binary_cross_entropy_with_logits(clf(x), y) +
                F.binary_cross_entropy_with_logits(clf(clean.clamp(-3, 3)), y) + F.mse_loss(clean, x))
        opt.zero_grad(); w.backward(loss); w.step(opt)
    return w.codes()


def regressor_on_two_inputs(steps=16):
    """A regressor fit on raw inputs and on an encoder's features of them under one optimizer, on targets it
    first under-estimates everywhere: its errors share one sign until it fits, then they do not."""
    torch.manual_seed(0)
    enc, reg = mlp(3, 3), mlp(3, 1)
    w = Watch(enc, reg)
    opt = torch.optim.Adam([*enc.parameters(), *reg.parameters()], 1e-2)
    for _ in range(steps):
        x = torch.randn(32, 3)
        y = 1.5 + 0.3 * x[:, :1]
        opt.zero_grad(); w.backward(F.mse_loss(reg(x), y)); w.step(opt)
        opt.zero_grad(); w.backward(F.mse_loss(reg(enc(x)), y)); w.step(opt)
    return w.codes()


def test_cooperating_fits_under_one_optimizer_are_not():
    assert denoiser_and_classifier() == []
    assert regressor_on_two_inputs() == []


def swapped(swap=True, split_d=False, detach=True, wgan=False, steps=16):
    """A GAN whose players' optimizers are unpacked in the wrong order: the generator's loss steps D. With
    `wgan`, a critic of 1-D signals scored by their mean (its loss: fakes down, real up; the generator's: fakes up)."""
    torch.manual_seed(0)
    if wgan:
        G = nn.Sequential(nn.Linear(3, 16), nn.Unflatten(1, (1, 16)))
        D = nn.Sequential(nn.Conv1d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(56, 1))
        return swapped_wgan(G, D, swap, steps)
    G, D = mlp(3, 2), mlp(2, 1)
    w = Watch(G, D)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)
    if swap:
        opt_g, opt_d = opt_d, opt_g
    for _ in range(steps):
        real, fake = torch.randn(32, 2) * 0.1 + 1, G(torch.randn(32, 3))
        opt_d.zero_grad()
        if split_d:  # D's loss in two backward calls, the fakes left attached (G's stray gradients zeroed below)
            w.backward(F.softplus(-D(real)).mean())
            w.backward(F.softplus(D(fake)).mean(), retain=True)
        else:
            w.backward(F.softplus(-D(real)).mean() + F.softplus(D(fake.detach() if detach else fake)).mean(),
                       retain=not detach)
        w.step(opt_d)
        opt_g.zero_grad()
        w.backward(F.softplus(-D(fake)).mean())
        w.step(opt_g)
    return w.codes()


def swapped_wgan(G, D, swap, steps):
    w = Watch(G, D)
    opt_g, opt_d = torch.optim.RMSprop(G.parameters(), 1e-3), torch.optim.RMSprop(D.parameters(), 1e-3)
    if swap:
        opt_g, opt_d = opt_d, opt_g
    for _ in range(steps):
        real, fake = torch.sin(torch.linspace(0, 6, 16)).expand(32, 1, 16), G(torch.randn(32, 3))
        opt_d.zero_grad(); w.backward(D(fake.detach()).mean() - D(real).mean()); w.step(opt_d)
        opt_g.zero_grad(); w.backward(-D(fake).mean()); w.step(opt_g)
    return w.codes()


def test_a_generators_loss_stepping_d_alone_is_named():
    assert swapped() == ["game-shared-optimizer"]
    assert swapped(wgan=True) == ["game-shared-optimizer"]


def test_ds_own_loss_on_attached_fakes_stepping_d_alone_is_not():
    assert swapped(swap=False) == []
    assert swapped(swap=False, detach=False) == []
    assert swapped(swap=False, split_d=True) == []
    assert swapped(swap=False, wgan=True) == []
