"""Experiments on independent copies of the user's model (the probes), the battery that runs them,
and checkup, the producer that runs them all on a model and batch."""
