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
            "Detects evaluations: forward passes under no_grad / inference_mode while dropout or batch-norm "
            "layers are in training mode. A pass a training step uses (a target network, an EMA or frozen "
            "teacher, pseudo-labels) is no evaluation: its batch statistics are by design. The trained model's "
            "own pass before its training forward is one when its outputs are followed, call by call, into "
            "the loss (double-DQN's next actions, pseudo-labels drawn first), at three passes per call site."),
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
        what=(
            "Detects training forward passes while every dropout / batch-norm layer is in eval mode, and measures, "
            "in sampled training calls, whether each batch-norm layer's running statistics describe the batch it "
            "normalizes: the scale of its output per channel, sqrt(((batch mean - running mean)^2 + batch "
            "variance) / running variance), 1 when they do. Off by more than BATCH_NORM_STATS_FACTOR either way "
            "(statistics never fitted on data that is not standardized, or fitted on other data): an error when "
            "the loss does not learn or goes non-finite, else a warning. Statistics that describe the batches "
            "(batch norm frozen for fine-tuning): a warning for dropout left off, else an info."),
        why=(
            "model.eval() left on during training disables dropout and makes batch norm normalize by its running "
            "statistics: never fitted, they are mean 0 and variance 1, so raw-scale data passes unnormalized "
            "(0-255 pixels stay in the hundreds) and the network can overflow or stop learning. Statistics fitted "
            "on the data (a pretrained network fine-tuned with small batches) normalize as training mode would."),
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
    Code(
        code="batchnorm-small-batch",
        title="Batch norm trains on statistics of one sample",
        severity="warning",
        stage=MECHANISM,
        what=(
            "Measures, in sampled training calls, what each batch-norm layer (BatchNorm1d/2d/3d, SyncBatchNorm, the "
            "lazy ones) in training mode normalizes over: its input's batch axis (axis 0), and the elements per "
            "channel it reduces (N for (N, C), N*L for (N, C, L), N*H*W for images). Fires when most sampled "
            "training calls give a layer one sample: a batch of one, or a layer the model runs once per sample of "
            "its batch. Layers in eval mode (frozen batch norm), layers that see one sample only at evaluation, "
            "an epoch's last short batch, and per-sample norms (LayerNorm, GroupNorm, InstanceNorm) are not "
            "counted. An error when the loss does not learn or the model is evaluated in eval mode, else a warning."),
        why=(
            "In training mode batch norm subtracts the batch's mean and divides by its spread, per channel. Over one "
            "sample these are the sample's own: whatever sets a sample apart as a whole, such as a channel's "
            "overall level, is removed before the next layer sees it, so the model cannot learn from it — and "
            "with a single element per channel the output is the constant bias. In eval mode the layer uses "
            "running statistics gathered across samples, a normalization the training never saw: validation "
            "scores sit near chance while the training loss looks fine."),
        hypotheses=(
            Hypothesis(
                cause="the batch size is 1 (DataLoader(batch_size=1), or one sample at a time by hand)",
                check="print x.shape entering the model in the training loop; train with a batch of 8 or more",
            ),
            Hypothesis(
                cause="the model's forward loops over the samples of its batch and runs the normalized block on each one",
                check="look for a loop over the batch in forward() (for xi in x, x.unbind(0), x.split(1)); run the "
                      "block once on the whole batch",
                kind="subtle",
            ),
            Hypothesis(
                cause="per-sample normalization is meant (style transfer, a detector fine-tuned with tiny batches)",
                check="say so with nn.GroupNorm / nn.InstanceNorm, or freeze the batch norm layers with .eval()",
                kind="null",
            ),
        ),
        next_step=(
            "Give each forward pass several samples (accumulating gradients over passes of one does not help: "
            "each pass is normalized apart), replace BatchNorm with GroupNorm/LayerNorm, or freeze the batch-norm "
            "layers in eval mode when fine-tuning with tiny batches."),
        bad="loader = DataLoader(ds, batch_size=1)\nmodel = nn.Sequential(nn.Conv2d(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(), ...)",
        good="loader = DataLoader(ds, batch_size=32)  # or nn.GroupNorm(4, 16) in place of nn.BatchNorm2d(16)",
        explains=("loss-plateau", "underfitting", "overfitting", "loss-metric-mismatch"),
    ),
)
