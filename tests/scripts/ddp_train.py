"""Run with torchrun --nproc_per_node=2: DDP on gloo, monitored. argv: OUT_DIR MODE [FAULT ...].

MODE "ok": 20 healthy steps, synced every 5. MODE "faults": 120 steps with the Monitor's defaults
(sync_every=50, sample_every=10), and FAULTs: `input@R:S` puts a NaN into rank R's batch at step S;
`collect@R:N` / `publish@R:N` make rank R's monitor fail inside at its N-th sync, before / after
the exchange between ranks.
"""
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from traindoctor import Monitor

dist.init_process_group("gloo")
rank = dist.get_rank()
out_dir, mode, faults = sys.argv[1], sys.argv[2], [f.replace("@", ":").split(":") for f in sys.argv[3:]]
torch.manual_seed(0)
model = DistributedDataParallel(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
g = torch.Generator().manual_seed(rank)
nan_steps = {int(s) for kind, r, s in faults if kind == "input" and int(r) == rank}
with Monitor(model, opt, log_dir=f"{out_dir}/rank{rank}", **({"sync_every": 5} if mode == "ok" else {})) as mon:
    for kind, r, n in faults:
        if kind in ("collect", "publish") and int(r) == rank:
            def broken(*args, _real=getattr(mon, f"_{kind}"), _calls=[], _n=int(n)):
                _calls.append(1)
                if len(_calls) == _n:
                    raise RuntimeError(f"injected monitor fault on rank {rank}")
                return _real(*args)
            setattr(mon, f"_{kind}", broken)
    for step in range(20 if mode == "ok" else 120):
        x, y = torch.randn(16, 8, generator=g), torch.randint(0, 2, (16,), generator=g)
        if step in nan_steps:
            x[3, 5] = float("nan")
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        reference = nn.utils.clip_grad_norm_(model.parameters(), float("inf"))  # what clipping would see
        mon.log(loss=loss, reference_norm=reference)
        opt.step()
dist.barrier()  # no rank tears gloo down while another still talks to it
dist.destroy_process_group()
