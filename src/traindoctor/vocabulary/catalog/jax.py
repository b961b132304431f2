"""JAX-specific mistakes."""

from ..hypothesis import Hypothesis
from . import Code, MECHANISM

AREA = "jax"

CODES = (
    Code(
        code="prng-key-reuse",
        title="A JAX PRNG key is used twice",
        severity="error",
        stage=MECHANISM,
        what="Detects a PRNG key consumed by two random calls without a split.",
        why="Reusing a key gives identical 'random' numbers: dropout masks and inits repeat.",
        hypotheses=(
            Hypothesis("jax.random.* called twice with the same key", "print both draws"),
        ),
        next_step="Split the key before every use.",
        bad="a = jax.random.normal(key, s); b = jax.random.normal(key, s)",
        good="k1, k2 = jax.random.split(key); a = jax.random.normal(k1, s); b = jax.random.normal(k2, s)",
    ),
    Code(
        code="jit-side-effect",
        title="A jitted function has Python side effects",
        severity="warning",
        stage=MECHANISM,
        what="Detects printing, appending or mutation of globals inside jax.jit functions.",
        why="Side effects run once at trace time, not on every call.",
        hypotheses=(
            Hypothesis("print or list.append inside a jitted function", "call the function twice and compare"),
        ),
        next_step="Use jax.debug.print and return values instead of mutating state.",
        bad="@jax.jit\ndef f(x): print(x); return x",
        good="@jax.jit\ndef f(x): jax.debug.print('{}', x); return x",
    ),
)
