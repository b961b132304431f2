"""`traindoctor curves`: diagnose logged loss and metric curves."""

from .analyze import analyze
from .readers import CurveError, Series, load

__all__ = ["CurveError", "Series", "analyze", "load"]
