"""Shapes of the loss and metric curves."""

from ..hypothesis import Hypothesis
from . import Code, STUCK, EXPLODES, GAP, MISMATCH

AREA = "curves"

CODES = (
    Code(
        code="loss-plateau",
        title="The loss stopped decreasing",
        severity="warning",
        stage=STUCK,
        what="Detects a loss curve that stays flat for a long stretch.",
        why="A flat loss from the start points to a learning rate that is too low, dead gradients or a wrong loss.",
        hypotheses=(
            Hypothesis("learning rate too low", "try 10x the LR for 100 steps"),
            Hypothesis("gradients are zero or disconnected", "log per-layer grad norms", kind="subtle"),
        ),
        next_step="Check gradient flow, then the learning rate.",
    ),
    Code(
        code="loss-oscillation",
        title="The loss oscillates instead of decreasing",
        severity="warning",
        stage=EXPLODES,
        what="Detects a loss that swings up and down without trend.",
        why="Large oscillations usually mean the learning rate is too high or the batches are not shuffled.",
        hypotheses=(
            Hypothesis("learning rate too high", "rerun with lr / 10"),
            Hypothesis("data is not shuffled", "check shuffle=True on the loader", kind="subtle"),
        ),
        next_step="Lower the LR; check shuffling.",
    ),
    Code(
        code="loss-spikes",
        title="The loss has sudden spikes",
        severity="warning",
        stage=EXPLODES,
        what="Detects isolated jumps of the loss far above its trend.",
        why="Spikes come from outlier batches or momentary gradient explosions.",
        hypotheses=(
            Hypothesis("gradient explosion on some batches", "log the pre-clip grad norm at the spike"),
            Hypothesis("a corrupt or outlier batch", "log the batch indices at the spike", kind="subtle"),
        ),
        next_step="Log grad norms and batch ids around the spikes.",
    ),
    Code(
        code="loss-divergence",
        title="The loss diverges",
        severity="error",
        stage=EXPLODES,
        what="Detects a loss that grows without bound or becomes non-finite.",
        why="A diverging loss means the optimization is unstable.",
        hypotheses=(
            Hypothesis("learning rate too high", "rerun with lr / 10"),
            Hypothesis(
                cause="numerical instability (log 0, exp overflow)",
                check="find the first non-finite module",
                kind="subtle",
            ),
        ),
        next_step="Lower the LR; look for unguarded log/exp/div.",
    ),
    Code(
        code="overfitting",
        title="Validation loss rises while training loss falls",
        severity="warning",
        stage=GAP,
        what="Detects a widening gap between training and validation loss.",
        why="The model memorizes the training set.",
        hypotheses=(
            Hypothesis("too little data or too much capacity", "compare with a smaller model"),
        ),
        next_step="Regularize, augment, or stop earlier.",
    ),
    Code(
        code="loss-metric-mismatch",
        title="The loss improves but the metric does not",
        severity="warning",
        stage=MISMATCH,
        what=(
            "Detects a decreasing loss with a flat evaluation metric, in logged curves (`curves`) or in what the "
            "training script prints (`run`: an accuracy, F1, IoU... that stays flat in the lower half of its "
            "range, never rises above 1% of it, or gets worse while the loss falls by 30% or more)."),
        why=(
            "Minimizing the loss may not improve the metric you care about. A metric that stays at zero, or falls, "
            "while the loss learns most often measures something else: an argmax over the wrong axis, predictions "
            "compared with the wrong labels."),
        hypotheses=(
            Hypothesis("the loss is not aligned with the metric", "compute the metric on the training batch"),
        ),
        next_step="Check that minimizing the loss improves the metric.",
    ),
    Code(
        code="underfitting",
        title="The loss settled at a high floor",
        severity="info",
        stage=STUCK,
        what="Detects a loss that fell at first, then stayed flat above half its starting value.",
        why=(
            "A loss that stops early at a high level means the model fits the data no better: too little "
            "capacity, a learning rate that decayed too early, or a floor set by the data itself. A curve cannot "
            "tell these apart (nor a hard task from a broken one), hence only a note; overfitting one batch can."),
        hypotheses=(
            Hypothesis(
                cause="the model is too small or too constrained (heavy regularization, frozen layers)",
                check="overfit one batch (`traindoctor checkup`): a model that cannot is the problem",
            ),
            Hypothesis(
                cause="the learning rate decayed, or was lowered, too early",
                check="plot the LR next to the loss; retry with a longer schedule",
                kind="subtle",
            ),
            Hypothesis(
                cause="the floor is the data's: label noise or an ambiguous task",
                check="relabel a sample by hand; compare with a known baseline's loss",
                kind="null",
            ),
        ),
        next_step="Overfit one batch; if that works, grow the model or lengthen the schedule.",
    ),
    Code(
        code="slow-convergence",
        title="The loss decreases, slowly",
        severity="info",
        stage=STUCK,
        what="Detects a steady but slow decrease.",
        why="Slow is not stuck; it may be capacity, batch size or learning rate.",
        hypotheses=(
            Hypothesis("learning rate on the low side", "run an LR range test"),
        ),
        next_step="Consider the LR, batch size and model size.",
    ),
)
