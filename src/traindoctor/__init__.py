"""traindoctor: tells you why your PyTorch model is not learning, with measurements."""

__version__ = "0.1.0"

from .findings import Finding, Hypothesis, Report  # noqa: E402

__all__ = ["Finding", "Hypothesis", "Monitor", "Report", "__version__", "checkup", "run_script"]


def __getattr__(name: str):
    if name == "Monitor":  # imported on first use: `import traindoctor` stays light
        from .monitor import Monitor

        return Monitor
    raise AttributeError(f"module 'traindoctor' has no attribute {name!r}")


def run_script(*args, **kwargs):
    """Run a training script under traindoctor; see `traindoctor.run.run_script`."""
    from .run import run_script as _run

    return _run(*args, **kwargs)


def checkup(*args, **kwargs):
    """Run the active-probe battery on copies of a model; see `traindoctor.battery.checkup`."""
    from .battery import checkup as _checkup

    return _checkup(*args, **kwargs)
