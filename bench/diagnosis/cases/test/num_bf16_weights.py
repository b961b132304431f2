# source: https://github.com/workofart/ml-by-hand/pull/85
# expect: low-precision-params
# category: regression
# bug: the recommender is cast to bfloat16 and Adam updates the bfloat16 embedding tables in place, with no float32 master copy; the embeddings are of order 1, where a bfloat16 step is 2^-7, so each update of about lr = 1e-3 rounds back to the same value and the rating error barely moves
import torch
import torch.nn as nn

torch.manual_seed(6)

N_USERS, N_ITEMS, K, N = 150, 100, 16, 24000
true_u, true_i = torch.randn(N_USERS, K), torch.randn(N_ITEMS, K)
users = torch.randint(0, N_USERS, (N,))
items = torch.randint(0, N_ITEMS, (N,))
ratings = (true_u[users] * true_i[items]).sum(1) / K ** 0.5 + 0.1 * torch.randn(N)


class MatrixFactorization(nn.Module):
    def __init__(self):
        super().__init__()
        self.user = nn.Embedding(N_USERS, K)
        self.item = nn.Embedding(N_ITEMS, K)

    def forward(self, u, i):
        return (self.user(u) * self.item(i)).sum(1) / K ** 0.5


model = MatrixFactorization().to(torch.bfloat16)  # halve the memory of the tables
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(15):
    perm = torch.randperm(N)
    for b in range(0, N, 256):
        idx = perm[b:b + 256]
        pred = model(users[idx], items[idx]).float()
        loss = ((pred - ratings[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        mse = ((model(users, items).float() - ratings) ** 2).mean().item()
    print(f"epoch {epoch:2d}  train mse {mse:.4f}")
