# source: https://github.com/Linear95/CLUB/issues/27
# expect: nonfinite-forward, loss-divergence, nonfinite-backward, unnormalized-inputs
# category: tabular
# bug: an exponential survival model whose hazard is exp(linear(raw covariates)); with age, income (k$) and tenure (months) in raw units each AdamW step moves the linear score by hundreds, exp overflows and the likelihood becomes inf/NaN
import torch
import torch.nn as nn

cfg = {"lr": 1e-1, "weight_decay": 1e-4, "epochs": 150, "batch": 256, "seed": 11}
torch.manual_seed(cfg["seed"])


def make_customers(n=4000):
    age = 18 + 60 * torch.rand(n)
    income = 20 + 80 * torch.rand(n)  # k$
    tenure = 1 + 120 * torch.rand(n)
    plan = torch.randint(0, 3, (n,)).float()
    feats = torch.stack([age, income, tenure, plan], dim=1)
    true_log_h = -4.0 + 0.01 * (age - 45) - 0.01 * (income - 60) - 0.01 * (tenure - 60) + 0.3 * plan
    t_event = torch.distributions.Exponential(torch.exp(true_log_h)).sample()
    t_censor = 200 * torch.rand(n)
    time = torch.minimum(t_event, t_censor)
    event = (t_event <= t_censor).float()
    return feats, time, event


class HazardModel(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.linear = nn.Linear(d, 1)

    def forward(self, x):
        return torch.exp(self.linear(x)).squeeze(1)


def exp_survival_nll(hazard, time, event):
    return (hazard * time - event * torch.log(hazard)).mean()


def train_one_epoch(model, opt, data, epoch):
    x, t, e = data
    perm = torch.randperm(len(x))
    total = 0.0
    for i in range(0, len(x), cfg["batch"]):
        idx = perm[i:i + cfg["batch"]]
        loss = exp_survival_nll(model(x[idx]), t[idx], e[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
        if epoch == 0 and i // cfg["batch"] < 4:
            print(f"  batch {i // cfg['batch']} nll {loss.item():.4f}")
    return total / ((len(x) + cfg["batch"] - 1) // cfg["batch"])


def main():
    data = make_customers()
    model = HazardModel(data[0].shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    for epoch in range(cfg["epochs"] // 10):
        avg = train_one_epoch(model, opt, data, epoch)
        print(f"epoch {epoch:2d} mean nll {avg:.4f}")


if __name__ == "__main__":
    main()
