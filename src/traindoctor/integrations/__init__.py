"""Callbacks that attach the Monitor to training frameworks without other code changes."""
