"""Run with torchrun --nproc_per_node=2: DDP on gloo, monitored; `nan` puts a NaN into rank 1's batch."""
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from traindoctor import Monitor

dist.init_process_group("gloo")
rank = dist.get_rank()
out_dir, mode = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = DistributedDataParallel(nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
g = torch.Generator().manual_seed(rank)
# sync_every=1 replays a non-finite batch on exactly the weights that produced it
with Monitor(model, opt, log_dir=f"{out_dir}/rank{rank}", sync_every=1 if mode == "nan" else 5) as mon:
    for step in range(20):
        x, y = torch.randn(16, 8, generator=g), torch.randint(0, 2, (16,), generator=g)
        if mode == "nan" and rank == 1 and step == 12:
            x[3, 5] = float("nan")
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        reference = nn.utils.clip_grad_norm_(model.parameters(), float("inf"))  # what clipping would see
        mon.log(loss=loss, reference_norm=reference)
        opt.step()
dist.barrier()  # no rank tears gloo down while another still talks to it
dist.destroy_process_group()
