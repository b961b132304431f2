"""The run itself."""

from ..hypothesis import Hypothesis
from . import Code, EXCEPTION

AREA = "meta"

CODES = (
    Code(
        code="script-error",
        title="The training script raised an exception",
        severity="error",
        stage=EXCEPTION,
        what="Reports the exception that stopped the script, with its traceback.",
        why="An exception ends training; the traceback usually names the line to fix.",
        hypotheses=(
            Hypothesis("the traceback's last frame in your code", "read the traceback from the bottom"),
        ),
        next_step="Fix the error the traceback points to, then run traindoctor again.",
    ),
)
