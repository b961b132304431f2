"""`traindoctor curves`: diagnose logged loss and metric curves."""

from .analyze import analyze
from ..judge.series import Series
from .readers import CurveError, Log, read

__all__ = ["CurveError", "Log", "Series", "analyze", "read"]
