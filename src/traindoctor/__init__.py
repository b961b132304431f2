"""traindoctor: tells you why your PyTorch model is not learning, with measurements."""

from .version import __version__
from .vocabulary.finding import Finding, Hypothesis
from .vocabulary.report import Report

__all__ = ["Finding", "Hypothesis", "Monitor", "Report", "__version__", "audit_data", "checkup", "run_script", "surface", "sweeps", "trace_leakage",
           "why_stuck"]


def _load(module: str):
    """Import a submodule on first use (`import traindoctor` stays light) without moving the caller's
    random streams: a library imported on the way may draw at import time (rich.style seeds an id
    counter from `random`), and by then the user's script has seeded them."""
    import importlib

    from .measure.streams import preserved_streams

    with preserved_streams():
        return importlib.import_module(module, __name__)


def __getattr__(name: str):
    if name == "Monitor":
        return _load(".monitor").Monitor
    raise AttributeError(f"module 'traindoctor' has no attribute {name!r}")


def run_script(*args, **kwargs):
    """Run a training script under traindoctor; see `traindoctor.run.runner.run_script`."""
    return _load(".run").run_script(*args, **kwargs)


def sweeps(source, **overrides):
    """Analyse a sweep (a path or a DataFrame of runs); see `traindoctor.sweeps.analyze`."""
    return _load(".sweeps").analyze(source, **overrides)


def surface(loss_fn, axes=None, ranges=None, **options):
    """A loss function's landscape: grid, negative-gradient field and table; see `traindoctor.surface.analyze`."""
    return _load(".surface").analyze(loss_fn, axes, ranges, **options)


def audit_data(train, eval=None, **roles):
    """Audit a dataset before training on it; see `traindoctor.data.audit.audit_data`."""
    return _load(".data").audit_data(train, eval, **roles)


def trace_leakage(model_or_pipeline, batch, **options):
    """Poison one sample and see which others it reaches; see `traindoctor.data.leakage.trace_leakage`."""
    return _load(".data.leakage").trace_leakage(model_or_pipeline, batch, **options)


def why_stuck(model, batch, metric_fn, loss_fn=None, **options):
    """Why won't a metric move? The seeds' decision table on copies; see `traindoctor.diagnosis.stuck.why_stuck`."""
    return _load(".diagnosis.stuck").why_stuck(model, batch, metric_fn, loss_fn, **options)


def checkup(*args, **kwargs):
    """Run the active-probe battery on copies of a model; see `traindoctor.diagnosis.checkup.checkup`."""
    return _load(".diagnosis.checkup").checkup(*args, **kwargs)
