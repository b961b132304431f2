# source: https://www.notion.so/Weight-Initialisation-b0f1da5f3be744d48feae21be6f79b0c
# expect: symmetric-units
# category: tabular
# bug: user and item embedding tables of a matrix-factorisation recommender are initialised with nn.init.constant_(0.1): all latent dims stay equal, so the model is rank one
import torch
import torch.nn as nn

torch.manual_seed(45)

N_USERS, N_ITEMS, RANK_TRUE, DIM = 300, 200, 6, 16

U_true = torch.randn(N_USERS, RANK_TRUE)
V_true = torch.randn(N_ITEMS, RANK_TRUE)
n_obs = 20000
users = torch.randint(0, N_USERS, (n_obs,))
items = torch.randint(0, N_ITEMS, (n_obs,))
ratings = (U_true[users] * V_true[items]).sum(1) / RANK_TRUE ** 0.5 + 0.1 * torch.randn(n_obs)


class MF(nn.Module):
    def __init__(self, n_users, n_items, dim):
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        for emb in (self.user, self.item):
            nn.init.constant_(emb.weight, 0.1)
        for emb in (self.user_bias, self.item_bias):
            nn.init.zeros_(emb.weight)

    def forward(self, u, i):
        dot = (self.user(u) * self.item(i)).sum(1)
        return dot + self.user_bias(u).squeeze(1) + self.item_bias(i).squeeze(1)


model = MF(N_USERS, N_ITEMS, DIM)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
batch = 512
step = 0
for epoch in range(8):
    perm = torch.randperm(n_obs)
    for k in range(0, n_obs, batch):
        idx = perm[k:k + batch]
        pred = model(users[idx], items[idx])
        loss = nn.functional.mse_loss(pred, ratings[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    with torch.no_grad():
        mse = nn.functional.mse_loss(model(users, items), ratings).item()
    print(f"epoch {epoch} step {step} train mse {mse:.4f}")
