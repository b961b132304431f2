"""In a fresh interpreter (so first-use imports count): the RNG states of torch, numpy and Python
`random` after a monitored loop and after the same loop unmonitored. argv: LOG_DIR. Prints JSON."""
import json
import random
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Poison(nn.Module):
    on = False

    def forward(self, x):
        return x + float("nan") if self.on else x


def loop(log_dir):
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    poison = Poison()
    model = nn.Sequential(nn.Linear(10, 32), nn.Dropout(0.3), nn.ReLU(), poison, nn.Linear(32, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    mon = None
    if log_dir:
        from traindoctor import Monitor
        mon = Monitor(model, opt, log_dir=log_dir)
    for i in range(60):
        x, y = torch.randn(16, 10), torch.randint(0, 4, (16,))
        poison.on = i == 49  # the sync step: its batch is replayed, through the dropout
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        if mon:
            mon.log(loss=loss)
        opt.step()
    module = mon.close().findings[0].location.get("module") if mon else None
    return [torch.get_rng_state().tolist(), np.random.get_state()[1].tolist(), repr(random.getstate())], module


watched, module = loop(sys.argv[1])  # first, so the monitor's first-use imports happen inside it
plain, _ = loop(None)
print(json.dumps({"torch": watched[0] == plain[0], "numpy": watched[1] == plain[1], "random": watched[2] == plain[2],
                  "replayed_module": module}))
