"""Code that is unsafe to run on untrusted files."""

from ..hypothesis import Hypothesis
from . import Code, MECHANISM

AREA = "security"

CODES = (
    Code(
        code="unsafe-torch-load",
        title="torch.load can execute code from the file",
        severity="warning",
        stage=MECHANISM,
        what=(
            "Flags torch.load with weights_only=False (a warning), or without weights_only (info: safe by "
            "default from torch 2.6)."),
        why="torch.load unpickles: a checkpoint from an untrusted source can run arbitrary code when loaded.",
        hypotheses=(
            Hypothesis(
                cause="the checkpoint holds more than tensors (optimizer objects, custom classes)",
                check="load with weights_only=True and see what fails",
            ),
        ),
        next_step="Load with weights_only=True; save plain state_dicts.",
        bad="state = torch.load(path, weights_only=False)",
        good="state = torch.load(path, weights_only=True)",
    ),
)
