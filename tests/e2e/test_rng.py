"""Do no harm to the user's random streams: `import traindoctor`, a first `checkup` and the probes
`run` repeats leave torch (CPU and CUDA), numpy and Python `random` exactly where they were.

Each check runs in a fresh interpreter: a lazily imported library that draws at import time
(rich.style seeds an id counter from `random`) only shows on the first call."""
import json
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

PRELUDE = textwrap.dedent('''
    import hashlib, json, pickle, random, sys
    import numpy as np
    import torch
    from torch import nn

    def states():
        cuda = [bytes(s.numpy()) for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else []
        raw = pickle.dumps((random.getstate(), np.random.get_state()[1].tolist(), bytes(torch.get_rng_state().numpy()), cuda))
        return hashlib.sha256(raw).hexdigest()

    random.seed(1); np.random.seed(1); torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    x, y = torch.ones(16, 8), torch.zeros(16, dtype=torch.long)
    before = states()
''')

# Each case runs in a fresh interpreter holding only torch, numpy and the model, after `import traindoctor`
# (checked too).
CASES = {
    "checkup": "traindoctor.checkup(model, (x, y), nn.CrossEntropyLoss(), progress=False, overfit_steps=20)",
    "run-probes": ("from traindoctor.diagnosis.checkup import CHEAP_PROBES; from traindoctor.judge.thresholds import DEAD_RELU_TRAINED; "
                   "traindoctor.checkup(model, (x, None), probes=CHEAP_PROBES, progress=False, dead_relu_threshold=DEAD_RELU_TRAINED)"),
    "progress-bar": "traindoctor.checkup(model, (x, y), nn.CrossEntropyLoss(), progress=True, probes=('init-loss',))",
    "monitor": "traindoctor.Monitor",
}


@pytest.mark.parametrize("case", CASES)
def test_no_random_stream_is_consumed(case):
    code = PRELUDE + "import traindoctor\nimported = states()\n" + CASES[case] + "\nprint(json.dumps([before, imported, states()]))\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before, imported, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == imported == after
