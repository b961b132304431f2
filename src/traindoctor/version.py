"""The package version, in its own module: every floor may read it without importing upward."""

__version__ = "0.1.0"
