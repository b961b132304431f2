# source: https://github.com/AntixK/PyTorch-VAE/issues/12
# expect: graph-break
# category: sequence
# bug: the sentence VAE stores the sampled latent for later inspection as self.last_z = z.detach() and then decodes from self.last_z, so the encoder never gets reconstruction gradient
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(31)
VOCAB, L, B, ZDIM = 12, 10, 64, 8
PAD, BOS = 0, 1


def make_batch(b):
    # token sequences: a start symbol followed by an arithmetic progression mod 10 (offset 2)
    start = torch.randint(0, 10, (b, 1))
    stride = torch.randint(1, 4, (b, 1))
    seq = (start + stride * torch.arange(L)) % 10 + 2
    return seq  # (B, L) batch-first


class SentenceVAE(nn.Module):
    def __init__(self, emb=32, hid=64):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, emb)
        self.encoder = nn.LSTM(emb, hid, batch_first=True)
        self.to_mu = nn.Linear(hid, ZDIM)
        self.to_logvar = nn.Linear(hid, ZDIM)
        self.z_to_h = nn.Linear(ZDIM, hid)
        self.decoder = nn.LSTM(emb, hid, batch_first=True)
        self.vocab_out = nn.Linear(hid, VOCAB)
        self.last_z = None

    def encode(self, tokens):
        _, (h, _) = self.encoder(self.embed(tokens))
        return self.to_mu(h[-1]), self.to_logvar(h[-1])

    def decode(self, z, length):
        h0 = torch.tanh(self.z_to_h(z)).unsqueeze(0)
        inp = self.embed(torch.full((z.size(0), length), BOS, dtype=torch.long))
        out, _ = self.decoder(inp, (h0, torch.zeros_like(h0)))
        return self.vocab_out(out)

    def forward(self, tokens):
        mu, logvar = self.encode(tokens)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        self.last_z = z.detach()
        return self.decode(self.last_z, tokens.size(1)), mu, logvar


def elbo(logits, tokens, mu, logvar, beta=0.5):
    nll = F.cross_entropy(logits.reshape(-1, VOCAB), tokens.reshape(-1), ignore_index=PAD, reduction="sum") / tokens.size(0)
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean()
    return nll + beta * kl, nll, kl


def run(cfg):
    model = SentenceVAE()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    for step in range(cfg["steps"]):
        tokens = make_batch(B)
        logits, mu, logvar = model(tokens)
        loss, nll, kl = elbo(logits, tokens, mu, logvar)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % cfg["log_every"] == 0 or step == cfg["steps"] - 1:
            acc = (logits.argmax(-1) == tokens).float().mean().item()
            print(f"step {step:4d}  loss {loss.item():7.3f}  nll {nll.item():7.3f}  kl {kl.item():6.3f}  "
                  f"token acc {acc:.3f}  |z| {model.last_z.norm(dim=1).mean().item():.3f}")


run({"lr": 3e-3, "steps": 400, "log_every": 40})
