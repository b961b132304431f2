# source: PyTorch forum thread "Simple Policy Gradient Application - Wrong Learning" (discuss.pytorch.org, reinforcement-learning category, SaricVr, Oct 18 2018: REINFORCE token generator that learns the wrong sequence); indexing variant of picking the sampled token's log-prob
# expect: log-prob-of-untaken-action, batch-mixing
# category: lm
# bug: sample_sequences() picks the chosen token's log-prob with logp[:, tok], which builds a [B, B] matrix (every sequence's log-prob of every other sequence's token) instead of logp[arange(B), tok]; the sequence-level REINFORCE loss then rewards tokens regardless of which context they were sampled in, so the generator collapses to a context-free pattern (about half the tokens correct) and never learns the "count upward" rule
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(13)

VOCAB, SEQ_LEN, BATCH, HID = 8, 10, 128, 64
BOS = VOCAB


class TokenGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB + 1, 32)
        self.cell = nn.GRUCell(32, HID)
        self.out = nn.Linear(HID, VOCAB)

    def init_state(self, prompt):
        h = torch.zeros(prompt.shape[0], HID)
        h = self.cell(self.emb(torch.full_like(prompt, BOS)), h)
        return self.cell(self.emb(prompt), h)


def reward_fn(prev, tok):
    # +1 whenever the token continues the count (prev + 1 mod V)
    return (tok == (prev + 1) % VOCAB).float()


def sample_sequences(model, prompt):
    h = model.init_state(prompt)
    prev = prompt
    chosen_logp, rewards, toks = [], [], []
    for t in range(SEQ_LEN):
        logp = F.log_softmax(model.out(h), dim=-1)          # [B, V]
        tok = torch.multinomial(logp.exp(), 1).squeeze(1)   # [B]
        chosen_logp.append(logp[:, tok])
        rewards.append(reward_fn(prev, tok))
        toks.append(tok)
        h = model.cell(model.emb(tok), h)
        prev = tok
    return torch.stack(chosen_logp), torch.stack(rewards), torch.stack(toks)


model = TokenGenerator()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for it in range(1, 201):
    prompt = torch.randint(0, VOCAB, (BATCH,))
    logp, rew, toks = sample_sequences(model, prompt)         # rew: [T, B]
    seq_logp = logp.sum(0)                                     # log-prob of each sampled sequence
    score = rew.sum(0)                                         # sequence reward
    adv = (score - score.mean()) / (score.std() + 1e-6)
    loss = -(seq_logp * adv).mean()
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    if it % 20 == 0:
        example = " ".join(str(x) for x in [prompt[0].item()] + toks[:, 0].tolist())
        print(f"iter {it:3d}  loss {loss.item():+.4f}  correct-token rate {rew.mean().item():.3f}  sample: {example}")
