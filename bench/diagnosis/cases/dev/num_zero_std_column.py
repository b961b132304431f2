# source: https://stats.stackexchange.com/questions/35304/how-to-standardize-an-array-if-standard-deviation-is-zero
# expect: nonfinite-input
# category: tabular
# bug: features are standardised with (X - mean) / std, but one column is constant in the training data, so its std is 0 and the whole column becomes 0/0 = NaN before the first batch; the loss is NaN from step 0
import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

np.random.seed(3)
torch.manual_seed(3)

N = 3000
income = np.random.lognormal(10, 0.5, N)
debt_ratio = np.random.beta(2, 5, N)
n_accounts = np.random.poisson(4, N).astype(float)
age = np.random.uniform(21, 70, N)
late_payments = np.random.poisson(0.7, N).astype(float)
country_code = np.full(N, 44.0)  # every applicant in this extract is from the same country
logit = -2.0 + 3.0 * debt_ratio + 0.8 * late_payments - 0.3 * (np.log(income) - 10) - 0.01 * (age - 45)
default = (np.random.rand(N) < 1 / (1 + np.exp(-logit))).astype(np.float32)

table = np.stack([income, debt_ratio, n_accounts, age, late_payments, country_code], axis=1)
X = torch.tensor(table, dtype=torch.float32)
X = (X - X.mean(dim=0)) / X.std(dim=0)
y = torch.tensor(default)


class CreditDataset(Dataset):
    def __init__(self, features, labels):
        self.features, self.labels = features, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"features": self.features[i], "label": self.labels[i]}


loader = DataLoader(CreditDataset(X, y), batch_size=64, shuffle=True)

model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 1))
criterion = nn.BCEWithLogitsLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(4):
    total = 0.0
    for batch in loader:
        logits = model(batch["features"]).squeeze(1)
        loss = criterion(logits, batch["label"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    print(f"epoch {epoch}  mean loss {total / len(loader):.4f}")
