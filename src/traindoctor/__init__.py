"""traindoctor: tells you why your PyTorch model is not learning, with measurements."""

__version__ = "0.1.0"

from .findings import Finding, Hypothesis, Report  # noqa: E402

__all__ = ["Finding", "Hypothesis", "Report", "__version__", "checkup", "run_script"]


def run_script(*args, **kwargs):
    """Run a training script under traindoctor; see `traindoctor.run.run_script`."""
    from .run import run_script as _run

    return _run(*args, **kwargs)


def checkup(*args, **kwargs):
    """Run the active-probe battery on copies of a model; see `traindoctor.battery.checkup`."""
    from .battery import checkup as _checkup

    return _checkup(*args, **kwargs)
