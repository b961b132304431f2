"""`traindoctor curves`: diagnose logged loss and metric curves."""

from .analyze import analyze
from .readers import CurveError, Log, Series, read

__all__ = ["CurveError", "Log", "Series", "analyze", "read"]
