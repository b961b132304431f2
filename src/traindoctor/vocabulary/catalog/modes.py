"""Train / eval modes of dropout and batch norm."""

from ..hypothesis import Hypothesis
from . import Code, MECHANISM

AREA = "modes"

CODES = (
    Code(
        code="eval-in-train-mode",
        title="Evaluation runs with dropout / batch norm in training mode",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects forward passes under no_grad / inference_mode while dropout or batch-norm layers are in "
            "training mode."),
        why=(
            "Dropout stays active, so evaluation metrics are noisy and pessimistic; batch norm normalizes with "
            "batch statistics and updates its running averages from evaluation data, corrupting the model."),
        hypotheses=(
            Hypothesis(
                cause="model.eval() is not called before the evaluation loop",
                check="print model.training inside the evaluation loop",
            ),
            Hypothesis(
                cause="model.train() is called inside the evaluation helper",
                check="grep the helper for .train(",
                kind="subtle",
            ),
        ),
        next_step="Call model.eval() before evaluating and model.train() before training again.",
        bad="with torch.no_grad():\n    val_loss = loss_fn(model(xv), yv)",
        good="model.eval()\nwith torch.no_grad():\n    val_loss = loss_fn(model(xv), yv)\nmodel.train()",
    ),
    Code(
        code="train-in-eval-mode",
        title="Training runs with dropout / batch norm in eval mode",
        severity="warning",
        stage=MECHANISM,
        what="Detects training forward passes while every dropout / batch-norm layer is in eval mode.",
        why=(
            "model.eval() left on during training disables dropout and freezes batch-norm statistics at their "
            "initial values: regularization is gone and normalization is wrong."),
        hypotheses=(
            Hypothesis(
                cause="model.train() is never called after an evaluation",
                check="print model.training at the top of the training loop",
            ),
            Hypothesis(
                cause="batch norm is frozen on purpose for fine-tuning",
                check="confirm the freeze is intended",
                kind="null",
            ),
        ),
        next_step="Call model.train() at the start of every training epoch.",
        bad="evaluate(model)  # calls model.eval()\nfor x, y in loader: train_step(x, y)",
        good="evaluate(model)\nmodel.train()\nfor x, y in loader: train_step(x, y)",
    ),
)
