# source: https://github.com/IntelLabs/distiller/issues/234
# expect: graph-break
# category: tabular
# bug: the categorical branch's output is re-wrapped with torch.tensor(...) before concatenation, so the embedding tables never get a gradient
import torch
import torch.nn as nn

torch.manual_seed(42)

N = 5000
n_city, n_shop = 30, 20
city = torch.randint(0, n_city, (N,))
shop = torch.randint(0, n_shop, (N,))
num = torch.randn(N, 6)
city_effect = torch.randn(n_city) * 2
shop_effect = torch.randn(n_shop) * 2
y = (num[:, 0] - 0.5 * num[:, 1] + city_effect[city] + shop_effect[shop] + 0.1 * torch.randn(N)).unsqueeze(1)


class WideDeep(nn.Module):
    def __init__(self):
        super().__init__()
        self.city_emb = nn.Embedding(n_city, 4)
        self.shop_emb = nn.Embedding(n_shop, 4)
        self.num_net = nn.Sequential(nn.Linear(6, 32), nn.ReLU())
        self.head = nn.Sequential(nn.Linear(32 + 8, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, num, city, shop):
        cat = torch.cat([self.city_emb(city), self.shop_emb(shop)], dim=1)
        cat = torch.tensor(cat, dtype=torch.float32)
        return self.head(torch.cat([self.num_net(num), cat], dim=1))


model = WideDeep()
opt = torch.optim.Adam(model.parameters(), lr=0.01)
loss_fn = nn.MSELoss()

for epoch in range(20):
    perm = torch.randperm(N)
    total = 0.0
    for i in range(0, N, 500):
        b = perm[i:i + 500]
        pred = model(num[b], city[b], shop[b])
        loss = loss_fn(pred, y[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    print("epoch", epoch, "mse", total / 10)
