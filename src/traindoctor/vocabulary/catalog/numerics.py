"""Non-finite values, gradient flow and activations."""

from ..hypothesis import Hypothesis
from . import Code, BAD_DATA, MECHANISM, NONFINITE, STUCK, EXPLODES

AREA = "numerics"

CODES = (
    Code(
        code="nonfinite-input",
        title="NaN or Inf already in the data entering the model",
        severity="error",
        stage=BAD_DATA,
        what="Detects non-finite values in the tensors passed to the model or to the loss as targets.",
        why="A single NaN in a batch poisons the loss, then every gradient and every weight.",
        hypotheses=(
            Hypothesis("missing values in the raw data were not imputed", "count NaNs per column of the dataset"),
            Hypothesis(
                cause="a preprocessing step divides by zero (e.g. std of a constant column)",
                check="check the normalization constants",
                kind="subtle",
            ),
        ),
        next_step=(
            "Fix or drop the non-finite values in the data pipeline; assert torch.isfinite(x).all() in the "
            "loader."),
        bad="x = (x - mean) / std            # std == 0 for a constant column",
        good="x = (x - mean) / (std + 1e-8)",
        explains=(
            "nonfinite-forward", "nonfinite-backward", "exploding-gradients", "loss-divergence",
            "init-loss-mismatch",
        ),
    ),
    Code(
        code="nonfinite-forward",
        title="A module turns finite inputs into NaN or Inf",
        severity="error",
        stage=NONFINITE,
        what=(
            "Replays the first non-finite step's batch on a copy of the model and through the loss as the script "
            "computed it, and names the first module whose output is non-finite although its inputs are finite. "
            "Within it, the first torch call whose arguments are finite while its result is not: when those "
            "arguments are moderate (no product of two of them overflows) the function itself made the NaN, and "
            "the finding names it, its arguments' range and the script's line; larger arguments are an explosion "
            "upstream that the function only showed."),
        why=(
            "NaN spreads: once one activation is NaN the loss and all gradients follow. The first call to produce "
            "it is where the numerical problem lives: exp overflows past 88.7 in float32 (11.1 in float16), log is "
            "-inf at 0, a division by 0 is inf or NaN — formulas that are fine on paper fail at values a network "
            "reaches (an unbounded output fed to exp, a probability that rounds to 0, a std of zero)."),
        hypotheses=(
            Hypothesis(
                cause="exp (or a power) of an unbounded model output",
                check="print the argument's max; bound it (clamp, softplus) or stay in log space (log_softmax, "
                      "logsumexp, PoissonNLLLoss(log_input=True), the log-variance itself)",
            ),
            Hypothesis(
                cause="log of a probability computed from logits that rounds to exactly 0 or 1",
                check="compute the loss from the logits (cross_entropy, log_softmax, logsigmoid, "
                      "binary_cross_entropy_with_logits) and see it stay finite",
            ),
            Hypothesis(
                cause="a division by a std, a norm or a count that reaches 0",
                check="print the denominator's minimum at that step; add an eps to it",
                kind="subtle",
            ),
            Hypothesis(
                cause="its weights or inputs were already huge after a bad update (an explosion upstream)",
                check="print the module's weight norm history; lower the learning rate and re-run",
                kind="subtle",
            ),
        ),
        next_step="Guard the operation (clamp, eps, log space) or fix what drives it out of range.",
        bad="rate = torch.exp(model(x))\nloss = (rate - y * torch.log(rate)).mean()",
        good="log_rate = model(x)\nloss = F.poisson_nll_loss(log_rate, y, log_input=True)",
    ),
    Code(
        code="nonfinite-backward",
        title="Gradients become NaN or Inf while the loss is finite",
        severity="error",
        stage=NONFINITE,
        what=(
            "Detects non-finite gradients after a finite loss and names the parameters they first reach; at a "
            "model's first step, replays it forward and backward from the initial weights and names the first "
            "autograd node turning finite gradients into non-finite ones, by the forward call and line that made "
            "it."),
        why=(
            "Operations with finite outputs can have infinite derivatives (sqrt at 0, norm of a zero vector, "
            "acos at 1). One such gradient destroys the weights at the next step."),
        hypotheses=(
            Hypothesis(
                cause="a derivative infinite at a value the forward reaches: sqrt, a norm or a fractional power at 0 "
                      "(a sample's distance to itself, a zero vector), acos or asin at ±1",
                check="add an eps inside the function and re-run the step: the gradients turn finite",
            ),
            Hypothesis(
                cause="gradients that overflow the dtype through large activations (float16 without a loss scaler)",
                check="log the gradient norm per module in the steps before; compute in float32 or use GradScaler",
                kind="subtle",
            ),
        ),
        next_step=(
            "Add eps where the derivative is unbounded; clip gradients as a safety net and log the pre-clip "
            "norm."),
        bad="d = (a - b).pow(2).sum(-1).sqrt()",
        good="d = ((a - b).pow(2).sum(-1) + 1e-12).sqrt()",
    ),
    Code(
        code="low-precision-params",
        title="An optimizer updates float16 or bfloat16 parameters with no float32 copy",
        severity="warning",
        stage=MECHANISM,
        what=(
            "Reads the parameters each torch.optim optimizer updates: any stored in float16 or bfloat16 means its "
            "state and every update are computed and rounded in that precision. An error when the run went "
            "non-finite or its loss did not fall."),
        why=(
            "torch.optim keeps its state in the parameter's dtype and rounds each update to it. float16 keeps 11 "
            "significant bits and nothing below 6e-8: Adam's eps (1e-8) and small squared gradients become 0, so "
            "its step divides by zero and the weights turn inf/NaN. bfloat16 keeps 8 bits: an update below 1/512 "
            "of a weight rounds away and the weights stop moving. Mixed precision keeps float32 weights and "
            "lowers only the compute (torch.autocast)."),
        hypotheses=(
            Hypothesis(
                cause="the whole model was cast with .half() / .to(torch.bfloat16) to save memory",
                check="print({p.dtype for p in optimizer.param_groups[0]['params']})",
            ),
            Hypothesis(
                cause="low precision was meant for the forward pass only",
                check="keep the weights float32 and run the forward under torch.autocast; compare the loss curve",
                kind="subtle",
            ),
        ),
        next_step=(
            "Keep parameters (and so the optimizer's state) in float32 and lower only the compute with torch.autocast "
            "(with torch.amp.GradScaler for float16); or keep a float32 master copy that the optimizer updates."),
        bad="model = Net().half()\nopt = torch.optim.Adam(model.parameters(), lr=1e-3)",
        good=(
            "model = Net()  # float32 weights\nopt = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
            "with torch.autocast(device_type='cuda', dtype=torch.bfloat16):\n    loss = loss_fn(model(x), y)"),
        explains=(
            "nonfinite-forward", "nonfinite-backward", "exploding-gradients", "vanishing-gradients",
            "loss-divergence", "lr-too-low", "loss-plateau", "slow-convergence", "cannot-overfit-batch",
        ),
    ),
    Code(
        code="exploding-gradients",
        title="Gradient norms grow by orders of magnitude",
        severity="warning",
        stage=EXPLODES,
        what="Detects a total gradient norm that grows 1000x above its early level.",
        why="Exploding gradients make each step larger than the last until the loss diverges.",
        hypotheses=(
            Hypothesis("learning rate too high", "rerun with lr / 10"),
            Hypothesis(
                cause="no gradient clipping in a recurrent or very deep model",
                check="clip at 1.0 and log the pre-clip norm",
                kind="subtle",
            ),
        ),
        next_step="Lower the LR, add clipping (log the pre-clip norm) and check normalization layers.",
        bad="opt.step()",
        good="torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\nopt.step()",
        # One exploded step throws the weights far from where they were: units that die there (a ReLU layer off
        # on every sample, an exp link at 0) pass nothing, and the output no longer depends on the inputs.
        explains=("loss-divergence", "nonfinite-forward", "nonfinite-backward", "dead-relu", "input-ignored",
                  "constant-output"),
    ),
    Code(
        code="vanishing-gradients",
        title="Gradients vanish before reaching the first layers",
        severity="warning",
        stage=STUCK,
        what="Detects first-layer gradient norms orders of magnitude below the last layer's.",
        why=(
            "Layers that receive no gradient do not learn; deep stacks of saturating activations are the usual "
            "cause."),
        hypotheses=(
            Hypothesis("saturating activations (sigmoid/tanh) in a deep stack", "plot per-layer grad norms"),
            Hypothesis(
                cause="missing residual connections or normalization",
                check="add skips / LayerNorm and compare",
                kind="subtle",
            ),
        ),
        next_step="Use ReLU-family activations, residual connections and normalization layers.",
        bad="nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.Sigmoid()) for _ in range(20)])",
        good="nn.Sequential(*[Block(64) for _ in range(20)])  # residual + LayerNorm",
    ),
    Code(
        code="dead-relu",
        title="Many ReLU units never activate",
        severity="warning",
        stage=STUCK,
        what="Measures the fraction of ReLU units that output zero for every sample of a batch.",
        why="A dead unit has zero gradient and never recovers; a layer of them caps the model's capacity.",
        hypotheses=(
            Hypothesis(
                cause="a too-high learning rate pushed biases negative",
                check="check the fraction at init vs after training",
            ),
        ),
        next_step="Lower the LR, use LeakyReLU/GELU, or re-check initialization.",
        bad="nn.ReLU()",
        good="nn.LeakyReLU(0.01)",
        # A layer whose units are all off passes neither signal forward nor gradient back: what follows it
        # sees constants, so the output ignores the inputs and nothing before it learns.
        explains=("input-ignored", "constant-output", "vanishing-gradients", "cannot-overfit-batch"),
    ),
    Code(
        code="saturated-activations",
        title="Sigmoid / tanh units are saturated",
        severity="warning",
        stage=STUCK,
        what=(
            "Measures the fraction of sigmoid/tanh outputs pinned near their bounds; for recurrent layers (GRU, "
            "LSTM, tanh RNN), whose gates run inside one fused op, the gate values of their first layer run step "
            "by step over the first 32 time steps of its input, the state fed back included (at the weights "
            "training started from, when known)."),
        why="Saturated units have derivatives near zero, so gradients vanish through them.",
        hypotheses=(
            Hypothesis("inputs to the activation are unnormalized", "print the pre-activation std"),
        ),
        next_step="Normalize pre-activations (LayerNorm) or lower the init scale.",
        bad="torch.tanh(self.fc(x * 100))",
        good="torch.tanh(self.norm(self.fc(x)))",
        # Pinned units pass no gradient (their slope is ~0) and hand the next layer inputs of the largest size
        # they can take, so a head fed by them starts as far from chance as its weights allow.
        explains=("vanishing-gradients", "init-loss-mismatch", "lr-too-low", "loss-plateau", "slow-convergence",
                  "cannot-overfit-batch", "underfitting"),
    ),
    Code(
        code="bad-custom-gradient",
        title="A custom autograd.Function's backward disagrees with finite differences",
        severity="error",
        stage=MECHANISM,
        what="Runs torch.autograd.gradcheck in float64 on each custom autograd.Function the model calls.",
        why="A wrong hand-written backward trains the model on wrong gradients, silently.",
        hypotheses=(
            Hypothesis(
                cause="a sign or transpose error in backward",
                check="compare backward with torch.autograd.functional.jacobian on tiny inputs",
            ),
        ),
        next_step="Fix the backward until gradcheck passes in float64.",
        bad="def backward(ctx, g): return g * ctx.saved_tensors[0]",
        good="def backward(ctx, g): x, = ctx.saved_tensors; return g * 2 * x",
    ),
    Code(
        code="inplace-on-leaf",
        title="In-place update of a leaf tensor that requires grad",
        severity="error",
        stage=MECHANISM,
        what=(
            "Flags in-place operations (+=, x[i] = ..., x.add_()) on tensors created with requires_grad=True, "
            "outside no_grad."),
        why=(
            "Autograd forbids modifying a leaf that requires grad in place; manual updates must run under "
            "torch.no_grad()."),
        hypotheses=(
            Hypothesis("a manual SGD update outside torch.no_grad()", "wrap the update in `with torch.no_grad():`"),
        ),
        next_step="Update parameters under torch.no_grad(), or use an optimizer.",
        bad="w = torch.randn(3, requires_grad=True)\n...\nw -= lr * w.grad",
        good="with torch.no_grad():\n    w -= lr * w.grad",
    ),
)
