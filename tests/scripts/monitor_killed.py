"""Trains under Monitor(log_dir) with default settings until killed. argv: LOG_DIR MODE.

MODE "outside": runs until the test SIGKILLs it. MODE "midwrite": SIGKILLs itself halfway through
writing the second sync's records to monitor.jsonl. A NaN enters the batch at step 20 in both.
"""
import json
import os
import signal
import sys

import torch
import torch.nn.functional as F
from torch import nn

from traindoctor import Monitor
from traindoctor.monitor import sinks

log_dir, mode = sys.argv[1], sys.argv[2]
if mode == "midwrite":
    write, calls = sinks.JsonlSink.write, []

    def half_then_kill(self, records):
        calls.append(len(records))
        if len(calls) == 2:
            text = "".join(json.dumps(r) + "\n" for r in records)
            self._file.write(text[: len(text) // 2])
            self._file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        write(self, records)
    sinks.JsonlSink.write = half_then_kill

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
mon = Monitor(model, opt, log_dir=log_dir)
for step in range(1_000_000):  # the test kills it long before
    x, y = torch.randn(32, 10), torch.randint(0, 4, (32,))
    if step == 20:
        x[4, 2] = float("nan")
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    mon.log(loss=loss)
    opt.step()
