"""The catalog: every finding code traindoctor can emit, with its explanation.

Producers name a code; everything else a reader needs (title, default severity,
why it matters, the usual hypotheses and their falsifiers) lives here once, so
`lint`, `run` and the other producers speak one vocabulary. `docs/codes.md` is
generated from this module.

`stage` follows the triage tree of the debugging playbook (exception -> NaN ->
init loss -> cannot overfit -> stuck -> explodes -> train/val gap -> loss/metric
mismatch -> constant output). Mechanism bugs that *cause* those symptoms
(double softmax, forgotten zero_grad, ...) sit just after the exception stage, so a
confirmed cause is read before the symptom it explains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEVERITIES = ("error", "warning", "info")
SOURCES = ("lint", "run", "checkup", "monitor", "curves", "data", "sweeps")

# Triage stages, in reading order.
EXCEPTION, BAD_DATA, MECHANISM, NONFINITE, INIT_LOSS, OVERFIT, STUCK, EXPLODES, GAP, MISMATCH, CONSTANT = range(11)


@dataclass(frozen=True)
class Hyp:
    cause: str
    check: str
    kind: str = "likely"  # likely | subtle | null


@dataclass(frozen=True)
class Code:
    code: str
    area: str
    title: str
    severity: str
    stage: int
    what: str
    why: str
    hypotheses: tuple[Hyp, ...]
    next_step: str
    bad: str
    good: str
    explains: tuple[str, ...] = field(default=())  # symptoms this cause accounts for


_NAN_SYMPTOMS = ("nonfinite-forward", "nonfinite-backward", "exploding-gradients", "loss-divergence", "init-loss-mismatch")

CATALOG: dict[str, Code] = {}


def _add(*codes: Code) -> None:
    for c in codes:
        assert c.severity in SEVERITIES and c.code not in CATALOG, c.code
        CATALOG[c.code] = c


_add(
    # ── loss and targets ────────────────────────────────────────────────────
    Code(
        "double-softmax", "loss and targets", "Cross-entropy receives probabilities, not logits", "error", MECHANISM,
        "Detects softmax (or log-softmax) outputs fed to a loss that applies log-softmax itself.",
        "nn.CrossEntropyLoss applies log_softmax internally. Fed probabilities, it squashes them a second "
        "time: the loss starts near ln C and its gradients shrink by roughly the class count, so training "
        "stalls or converges to a poor model. (Log-softmax fed to it is redundant but harmless.)",
        (Hyp("a Softmax layer or F.softmax before nn.CrossEntropyLoss", "compare the loss on raw logits and on softmax(logits) for one batch"),
         Hyp("probabilities were meant for nll_loss after a log", "replace the loss by F.nll_loss(torch.log(p)) and see if the loss moves", "subtle")),
        "Remove the softmax from the model's training path; apply it only when you need probabilities.",
        "model = nn.Sequential(nn.Linear(20, 10), nn.Softmax(dim=1))\nloss = F.cross_entropy(model(x), y)",
        "model = nn.Sequential(nn.Linear(20, 10))\nloss = F.cross_entropy(model(x), y)  # softmax only at inference",
        ("init-loss-mismatch", "loss-plateau", "slow-convergence", "cannot-overfit-batch"),
    ),
    Code(
        "double-sigmoid", "loss and targets", "A with-logits loss receives sigmoid outputs", "error", MECHANISM,
        "Detects sigmoid outputs fed to binary_cross_entropy_with_logits / BCEWithLogitsLoss.",
        "The loss applies a sigmoid itself. A second sigmoid maps every prediction into (0.5, 0.73), so "
        "the model can never express confidence in class 0 and gradients are tiny.",
        (Hyp("a Sigmoid at the end of the model plus BCEWithLogitsLoss", "print the loss input's range: values in [0, 1] are probabilities"),),
        "Drop the final sigmoid, or switch to nn.BCELoss (less stable) if you must keep it.",
        "out = torch.sigmoid(model(x))\nloss = F.binary_cross_entropy_with_logits(out, y)",
        "loss = F.binary_cross_entropy_with_logits(model(x), y)",
        ("init-loss-mismatch", "loss-plateau", "cannot-overfit-batch"),
    ),
    Code(
        "nll-without-log-softmax", "loss and targets", "nll_loss receives values that are not log-probabilities", "error", MECHANISM,
        "Detects nll_loss / NLLLoss applied to raw logits or probabilities.",
        "NLLLoss only picks -input[target]; it normalizes nothing. On raw logits the loss is unbounded "
        "below, so the model can drive it to -inf by inflating one logit without learning anything.",
        (Hyp("the model ends in a Linear layer and the loss is NLLLoss", "check that exp(input).sum(dim=1) is 1 for a batch"),
         Hyp("a softmax was used where log_softmax was meant", "check that the input is <= 0 everywhere", "subtle")),
        "Add log_softmax before nll_loss, or use cross_entropy on the logits.",
        "loss = F.nll_loss(model(x), y)",
        "loss = F.cross_entropy(model(x), y)  # or F.nll_loss(F.log_softmax(model(x), 1), y)",
        _NAN_SYMPTOMS + ("loss-divergence",),
    ),
    Code(
        "broadcast-loss", "loss and targets", "Prediction and target broadcast to a larger shape in the loss", "error", MECHANISM,
        "Detects element-wise losses whose input and target shapes broadcast, e.g. (B, 1) against (B,).",
        "Broadcasting (B, 1) against (B,) silently builds a (B, B) matrix: every prediction is compared "
        "with every target, so the best the model can do is predict the batch mean.",
        (Hyp("the model outputs (B, 1) and the targets are (B,)", "print pred.shape and target.shape at the loss"),),
        "Make the shapes equal: pred.squeeze(-1) or target.unsqueeze(-1).",
        "loss = F.mse_loss(model(x), y)   # (B, 1) vs (B,)",
        "loss = F.mse_loss(model(x).squeeze(-1), y)",
        ("loss-plateau", "cannot-overfit-batch", "constant-output"),
    ),
    Code(
        "labels-all-ignored", "loss and targets", "Every target is ignored: the loss has nothing to learn from", "error", MECHANISM,
        "Detects batches whose targets all equal ignore_index, or a loss that is identically 0 with zero gradients.",
        "With every label masked, a mean-reduced cross-entropy is 0/0 = NaN and a sum-reduced one is 0: "
        "no gradient ever reaches the model. Usually a label-shifting or padding bug in preprocessing.",
        (Hyp("labels were masked to ignore_index (-100) by a collator or tokenizer bug", "count (labels != -100) for one batch"),
         Hyp("the loss mask is empty", "print mask.sum() for one batch", "subtle")),
        "Inspect one batch's labels before the loss; fix the masking so real tokens keep their ids.",
        "labels = torch.full_like(input_ids, -100)  # every position masked",
        "labels = input_ids.clone(); labels[attention_mask == 0] = -100",
        ("nonfinite-forward", "nonfinite-backward", "loss-plateau", "init-loss-mismatch"),
    ),
    Code(
        "init-loss-mismatch", "loss and targets", "The first loss is far from its chance level", "warning", INIT_LOSS,
        "Compares the first recorded loss with the loss of an uninformed model (ln C, ln 2, var(target)).",
        "A freshly initialised model should be about as good as guessing. A much larger first loss means "
        "overconfident initial outputs (bad init, unscaled inputs or outputs), which wastes the first part "
        "of training and can destabilise it.",
        (Hyp("the output layer's initial weights are too large", "print the logits' std at init (expect about 1 or less)"),
         Hyp("inputs are not normalized", "print the input's mean and std per feature", "subtle"),
         Hyp("the loss is not the one you think (wrong reduction, weights)", "compute the loss by hand for one batch", "subtle")),
        "Scale down the last layer's init (or zero it) and normalize the inputs; re-check the first loss.",
        "head = nn.Linear(512, 10); nn.init.normal_(head.weight, std=10.0)",
        "head = nn.Linear(512, 10)  # default init; or nn.init.zeros_(head.weight)",
    ),
    Code(
        "label-leakage", "loss and targets", "The first loss is far below chance: the answer may be in the input", "warning", INIT_LOSS,
        "Flags an initial loss far below the chance level of an untrained model.",
        "An untrained model cannot beat chance unless the target is visible in the input (a leaked "
        "column, a shifted sequence that exposes the next token) or the model is already trained.",
        (Hyp("a feature column is a copy or function of the target", "drop features one at a time and watch the first loss"),
         Hyp("the model was loaded from a checkpoint trained on this task", "confirm whether weights were loaded", "null")),
        "Find which input carries the target: shuffle the targets and check the first loss returns to chance.",
        "X = df.drop(columns=['id'])        # still contains 'label_encoded'",
        "X = df.drop(columns=['id', 'label', 'label_encoded'])",
    ),
    Code(
        "loss-imbalance", "loss and targets", "Loss terms' gradients differ by orders of magnitude", "warning", STUCK,
        "Compares the gradient norms that each term of a composite loss sends to the shared parameters.",
        "When one term's gradient dominates by 100x, the others are effectively switched off.",
        (Hyp("terms have different units or scales", "log each term's gradient norm on the shared parameters"),),
        "Rescale the terms (or normalize their gradients) so none dominates unintentionally.",
        "loss = mse_pixels + 1e-4 * kl",
        "loss = mse_pixels / n_pixels + beta * kl  # terms on comparable scales",
    ),
    # ── optimizer and loop ──────────────────────────────────────────────────
    Code(
        "grad-not-zeroed", "optimizer and loop", "Gradients accumulate across optimizer steps", "error", MECHANISM,
        "Detects optimizer steps whose gradients were never reset since the previous step.",
        "backward() adds into .grad. Without zero_grad each step applies the sum of all past gradients: "
        "the effective learning rate grows every step until training diverges or thrashes.",
        (Hyp("optimizer.zero_grad() is missing from the loop", "print a parameter's grad norm before backward on two steps"),
         Hyp("zero_grad is called on a different optimizer or model than the one stepped", "compare id(optimizer) at zero_grad and step", "subtle")),
        "Call optimizer.zero_grad(set_to_none=True) once per optimizer step (before backward).",
        "for x, y in loader:\n    loss_fn(model(x), y).backward()\n    opt.step()",
        "for x, y in loader:\n    opt.zero_grad(set_to_none=True)\n    loss_fn(model(x), y).backward()\n    opt.step()",
        ("exploding-gradients", "lr-too-high", "loss-divergence", "loss-oscillation") + _NAN_SYMPTOMS,
    ),
    Code(
        "zero-grad-misplaced", "optimizer and loop", "Gradients are cleared between backward and step", "error", MECHANISM,
        "Detects optimizer steps that find every gradient zeroed although backward ran since the last step.",
        "zero_grad between backward() and step() throws the gradients away: the optimizer steps on "
        "nothing (or only on weight decay) and the model never learns.",
        (Hyp("zero_grad() sits after backward() instead of before it", "print the grad norm right before optimizer.step()"),),
        "Move zero_grad before backward (or after step).",
        "loss.backward()\nopt.zero_grad()\nopt.step()",
        "opt.zero_grad()\nloss.backward()\nopt.step()",
        ("loss-plateau", "cannot-overfit-batch", "lr-too-low", "optimizer-params-unused"),
    ),
    Code(
        "scheduler-too-fast", "optimizer and loop", "The learning rate collapses within the first epoch", "error", MECHANISM,
        "Detects a learning rate that falls by 100x or more within half an epoch of optimizer steps.",
        "Per-epoch schedulers (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR) stepped once per "
        "batch run their whole schedule in a few dozen steps; the rest of training runs at a learning rate "
        "near zero and the loss freezes.",
        (Hyp("scheduler.step() is inside the batch loop while the schedule is counted in epochs", "print scheduler.get_last_lr() after each epoch"),
         Hyp("step_size / T_max was meant in batches but set in epochs", "compare T_max or step_size with len(loader)", "subtle")),
        "Step per-epoch schedulers once per epoch, or express their period in optimizer steps.",
        "for x, y in loader:\n    ...; opt.step(); sched.step()   # StepLR(step_size=30)",
        "for epoch in range(E):\n    for x, y in loader: ...; opt.step()\n    sched.step()",
        ("lr-too-low", "loss-plateau", "slow-convergence"),
    ),
    Code(
        "params-not-in-optimizer", "optimizer and loop", "Parameters get gradients but no optimizer updates them", "error", MECHANISM,
        "Detects parameters of the model that receive gradients and belong to no optimizer.",
        "A layer created (or replaced) after the optimizer was built keeps its random initial weights "
        "forever: it gets gradients that nobody applies.",
        (Hyp("the optimizer was created before a layer was added or replaced", "check that every name in model.named_parameters() is in the optimizer"),
         Hyp("param groups list only a sub-module", "print the optimizer's param groups sizes", "subtle")),
        "Build the optimizer after the model is complete, from model.parameters().",
        "opt = torch.optim.Adam(model.parameters())\nmodel.head = nn.Linear(64, 10)",
        "model.head = nn.Linear(64, 10)\nopt = torch.optim.Adam(model.parameters())",
        ("cannot-overfit-batch", "loss-plateau"),
    ),
    Code(
        "optimizer-params-unused", "optimizer and loop", "Optimizer parameters never receive a gradient", "warning", OVERFIT,
        "Detects parameters handed to an optimizer whose .grad stays None at every step.",
        "A parameter without a gradient is disconnected from the loss: a detach(), .data or .item() in "
        "the forward path, an unused branch, or a layer the loss never reaches.",
        (Hyp("the forward path cuts the graph (detach, .data, .item(), numpy round-trip)", "check out.grad_fn is not None at the layer's output"),
         Hyp("the module is defined but never called in forward", "count the module's forward calls with a hook", "subtle")),
        "Find where the graph is cut between these parameters and the loss.",
        "h = self.encoder(x).detach()\nreturn self.head(h)",
        "h = self.encoder(x)\nreturn self.head(h)",
        ("cannot-overfit-batch", "loss-plateau"),
    ),
    Code(
        "frozen-params", "optimizer and loop", "The optimizer holds parameters with requires_grad=False", "info", MECHANISM,
        "Reports optimizer parameters that are frozen; an error when every parameter is frozen.",
        "Frozen parameters never change. When that is intended (fine-tuning a head) this is context; when "
        "every parameter is frozen nothing trains.",
        (Hyp("a freeze loop froze more than intended", "count p.requires_grad over model.parameters()"),),
        "Unfreeze what should train; pass only trainable parameters to the optimizer.",
        "for p in model.parameters(): p.requires_grad = False\nopt = SGD(model.parameters(), lr=0.1)",
        "for p in model.backbone.parameters(): p.requires_grad = False\nopt = SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)",
    ),
    Code(
        "lr-too-high", "optimizer and loop", "The learning rate is too high: updates rival the weights", "error", EXPLODES,
        "Detects divergence preceded by update/parameter ratios far above the usual ~1e-3.",
        "When one optimizer step changes the weights by a sizeable fraction of their norm, the loss jumps "
        "out of the basin: it oscillates, climbs or becomes NaN.",
        (Hyp("the learning rate is 10-1000x too large for this model and optimizer", "rerun with lr / 10 and watch the update ratio"),
         Hyp("there is no warmup for a large model", "add linear warmup over the first few hundred steps", "subtle")),
        "Lower the learning rate until the update/parameter ratio sits near 1e-3; add warmup or clipping.",
        "opt = torch.optim.SGD(model.parameters(), lr=5.0)",
        "opt = torch.optim.SGD(model.parameters(), lr=0.05)",
        ("nonfinite-forward", "nonfinite-backward", "exploding-gradients", "loss-divergence", "loss-oscillation", "loss-spikes"),
    ),
    Code(
        "lr-too-low", "optimizer and loop", "The learning rate is too low: the weights barely move", "warning", STUCK,
        "Detects update/parameter ratios below 1e-5 while the loss does not improve.",
        "With updates a millionth of the weights, training would need millions of steps to move.",
        (Hyp("the learning rate is orders of magnitude too small", "rerun with lr x 10 and compare the first 100 steps"),
         Hyp("a scheduler decayed the learning rate too early", "print the LR per step", "subtle")),
        "Raise the learning rate (an LR range test finds a good one).",
        "opt = torch.optim.Adam(model.parameters(), lr=1e-7)",
        "opt = torch.optim.Adam(model.parameters(), lr=1e-3)",
        ("loss-plateau", "slow-convergence"),
    ),
    Code(
        "no-grad-training", "optimizer and loop", "Training steps run under no_grad", "error", MECHANISM,
        "Detects a training loop whose forward pass runs with gradients disabled.",
        "Under torch.no_grad the loss has no graph; backward fails or, if the graph was cut silently, "
        "the optimizer steps on stale gradients.",
        (Hyp("the training loop sits inside `with torch.no_grad()` meant for evaluation", "check torch.is_grad_enabled() in the loop"),),
        "Run training forwards with gradients enabled; keep no_grad for evaluation.",
        "with torch.no_grad():\n    for x, y in loader: train_step(x, y)",
        "for x, y in loader: train_step(x, y)",
    ),
    Code(
        "graph-break", "optimizer and loop", "The loss path leaves autograd", "error", MECHANISM,
        "Detects .item(), .numpy(), .detach(), .data or re-wrapping into a new tensor inside the loss path.",
        "Values that leave autograd carry no gradient: the parameters before the break stop learning "
        "without any error.",
        (Hyp("a value is converted to Python or numpy and back", "check loss.grad_fn and the grad of the first layer"),),
        "Keep the computation in torch ops end to end.",
        "loss = torch.tensor(criterion(out, y).item(), requires_grad=True)",
        "loss = criterion(out, y)",
        ("optimizer-params-unused", "cannot-overfit-batch"),
    ),
    # ── modes ───────────────────────────────────────────────────────────────
    Code(
        "eval-in-train-mode", "modes", "Evaluation runs with dropout / batch norm in training mode", "error", MECHANISM,
        "Detects forward passes under no_grad / inference_mode while dropout or batch-norm layers are in training mode.",
        "Dropout stays active, so evaluation metrics are noisy and pessimistic; batch norm normalizes with "
        "batch statistics and updates its running averages from evaluation data, corrupting the model.",
        (Hyp("model.eval() is not called before the evaluation loop", "print model.training inside the evaluation loop"),
         Hyp("model.train() is called inside the evaluation helper", "grep the helper for .train(", "subtle")),
        "Call model.eval() before evaluating and model.train() before training again.",
        "with torch.no_grad():\n    val_loss = loss_fn(model(xv), yv)",
        "model.eval()\nwith torch.no_grad():\n    val_loss = loss_fn(model(xv), yv)\nmodel.train()",
    ),
    Code(
        "train-in-eval-mode", "modes", "Training runs with dropout / batch norm in eval mode", "warning", MECHANISM,
        "Detects training forward passes while every dropout / batch-norm layer is in eval mode.",
        "model.eval() left on during training disables dropout and freezes batch-norm statistics at their "
        "initial values: regularization is gone and normalization is wrong.",
        (Hyp("model.train() is never called after an evaluation", "print model.training at the top of the training loop"),
         Hyp("batch norm is frozen on purpose for fine-tuning", "confirm the freeze is intended", "null")),
        "Call model.train() at the start of every training epoch.",
        "evaluate(model)  # calls model.eval()\nfor x, y in loader: train_step(x, y)",
        "evaluate(model)\nmodel.train()\nfor x, y in loader: train_step(x, y)",
    ),
    # ── numerics ────────────────────────────────────────────────────────────
    Code(
        "nonfinite-input", "numerics", "NaN or Inf already in the data entering the model", "error", BAD_DATA,
        "Detects non-finite values in the tensors passed to the model or to the loss as targets.",
        "A single NaN in a batch poisons the loss, then every gradient and every weight.",
        (Hyp("missing values in the raw data were not imputed", "count NaNs per column of the dataset"),
         Hyp("a preprocessing step divides by zero (e.g. std of a constant column)", "check the normalization constants", "subtle")),
        "Fix or drop the non-finite values in the data pipeline; assert torch.isfinite(x).all() in the loader.",
        "x = (x - mean) / std            # std == 0 for a constant column",
        "x = (x - mean) / (std + 1e-8)",
        _NAN_SYMPTOMS,
    ),
    Code(
        "nonfinite-forward", "numerics", "A module turns finite inputs into NaN or Inf", "error", NONFINITE,
        "Names the first module (by qualified name) whose output is non-finite although its inputs are finite.",
        "NaN spreads: once one activation is NaN the loss and all gradients follow. The first module to "
        "produce it is where the numerical problem lives (log of 0, division by 0, exp overflow).",
        (Hyp("an unguarded log / sqrt / division in that module", "clamp the module's input (eps) and re-run the batch"),
         Hyp("its weights were already huge after a bad update", "print the module's weight norm history", "subtle")),
        "Guard the operation (clamp, eps) or fix what drives it out of range.",
        "return torch.log(x)",
        "return torch.log(x.clamp_min(1e-8))",
    ),
    Code(
        "nonfinite-backward", "numerics", "Gradients become NaN or Inf while the loss is finite", "error", NONFINITE,
        "Detects non-finite gradients after a finite loss and names the parameters they first reach.",
        "Operations with finite outputs can have infinite derivatives (sqrt at 0, norm of a zero vector, "
        "acos at 1). One such gradient destroys the weights at the next step.",
        (Hyp("sqrt / norm / pow with a fractional exponent evaluated at 0", "add eps inside the sqrt and re-run"),),
        "Add eps where the derivative is unbounded; clip gradients as a safety net and log the pre-clip norm.",
        "d = (a - b).pow(2).sum(-1).sqrt()",
        "d = ((a - b).pow(2).sum(-1) + 1e-12).sqrt()",
    ),
    Code(
        "exploding-gradients", "numerics", "Gradient norms grow by orders of magnitude", "warning", EXPLODES,
        "Detects a total gradient norm that grows 1000x above its early level.",
        "Exploding gradients make each step larger than the last until the loss diverges.",
        (Hyp("learning rate too high", "rerun with lr / 10"),
         Hyp("no gradient clipping in a recurrent or very deep model", "clip at 1.0 and log the pre-clip norm", "subtle")),
        "Lower the LR, add clipping (log the pre-clip norm) and check normalization layers.",
        "opt.step()",
        "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\nopt.step()",
        ("loss-divergence", "nonfinite-forward", "nonfinite-backward"),
    ),
    Code(
        "vanishing-gradients", "numerics", "Gradients vanish before reaching the first layers", "warning", STUCK,
        "Detects first-layer gradient norms orders of magnitude below the last layer's.",
        "Layers that receive no gradient do not learn; deep stacks of saturating activations are the usual cause.",
        (Hyp("saturating activations (sigmoid/tanh) in a deep stack", "plot per-layer grad norms"),
         Hyp("missing residual connections or normalization", "add skips / LayerNorm and compare", "subtle")),
        "Use ReLU-family activations, residual connections and normalization layers.",
        "nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.Sigmoid()) for _ in range(20)])",
        "nn.Sequential(*[Block(64) for _ in range(20)])  # residual + LayerNorm",
    ),
    Code(
        "dead-relu", "numerics", "Many ReLU units never activate", "warning", STUCK,
        "Measures the fraction of ReLU units that output zero for every sample of a batch.",
        "A dead unit has zero gradient and never recovers; a layer of them caps the model's capacity.",
        (Hyp("a too-high learning rate pushed biases negative", "check the fraction at init vs after training"),),
        "Lower the LR, use LeakyReLU/GELU, or re-check initialization.",
        "nn.ReLU()",
        "nn.LeakyReLU(0.01)",
    ),
    Code(
        "saturated-activations", "numerics", "Sigmoid / tanh units are saturated", "warning", STUCK,
        "Measures the fraction of sigmoid/tanh outputs pinned near their bounds.",
        "Saturated units have derivatives near zero, so gradients vanish through them.",
        (Hyp("inputs to the activation are unnormalized", "print the pre-activation std"),),
        "Normalize pre-activations (LayerNorm) or lower the init scale.",
        "torch.tanh(self.fc(x * 100))",
        "torch.tanh(self.norm(self.fc(x)))",
    ),
    # ── data ────────────────────────────────────────────────────────────────
    Code(
        "unnormalized-inputs", "data", "Input features are orders of magnitude away from unit scale", "warning", BAD_DATA,
        "Measures each input feature's mean and standard deviation on the first batches.",
        "Features at scale 1e3 dominate the first layer's pre-activations and force tiny learning rates; "
        "mixed scales make the loss surface badly conditioned.",
        (Hyp("raw units or 0-255 pixels fed without normalization", "print per-feature mean/std of one batch"),),
        "Standardize each feature with statistics from the training split.",
        "x = torch.tensor(df[cols].values)",
        "x = torch.tensor(((df[cols] - train_mean) / train_std).values)",
        ("init-loss-mismatch", "lr-too-high", "exploding-gradients", "loss-divergence"),
    ),
    Code(
        "unnormalized-targets", "data", "Regression targets are orders of magnitude away from unit scale", "warning", BAD_DATA,
        "Measures regression targets' scale at the loss.",
        "A regression loss on targets of scale 1e5 produces gradients of scale 1e5: the learning rate "
        "that works for the weights is wrong for the output layer.",
        (Hyp("targets in raw units (prices, counts, metres)", "print target mean/std"),),
        "Standardize targets (and un-standardize predictions for reporting).",
        "loss = F.mse_loss(pred, price)",
        "loss = F.mse_loss(pred, (price - mu) / sigma)",
        ("init-loss-mismatch", "lr-too-high", "exploding-gradients", "loss-divergence"),
    ),
    Code(
        "class-imbalance", "data", "One class dominates the labels", "warning", BAD_DATA,
        "Counts labels per class in the batches seen.",
        "A model can reach a low loss by always predicting the majority class.",
        (Hyp("the dataset is imbalanced", "print the label histogram"),),
        "Use class weights, resampling, or a metric that sees the minority class.",
        "loss = F.cross_entropy(out, y)",
        "loss = F.cross_entropy(out, y, weight=class_weights)",
    ),
    Code(
        "split-overlap", "data", "Train and validation share samples", "error", MECHANISM,
        "Detects identical samples in two splits.",
        "Overlapping splits make validation an optimistic copy of training.",
        (Hyp("duplicates in the raw data or a split after augmentation", "hash samples and intersect the splits"),),
        "Deduplicate before splitting; split by entity (user, patient, scene).",
        "train, val = random_split(augmented, [0.8, 0.2])",
        "train, val = random_split(raw, [0.8, 0.2]); train = augment(train)",
    ),
    Code(
        "test-fit-leakage", "data", "A preprocessing step is fit on test or validation data", "error", MECHANISM,
        "Detects fit / fit_transform called on evaluation data.",
        "Statistics learned from the test set leak it into training; reported scores are optimistic.",
        (Hyp("the scaler is refit on the test split", "grep for fit_transform(X_test"),),
        "Fit on the training split; only transform the others.",
        "X_test = scaler.fit_transform(X_test)",
        "X_test = scaler.transform(X_test)",
    ),
    Code(
        "shuffled-time-split", "data", "Time-series data split at random", "warning", MECHANISM,
        "Detects random (shuffled) splits on temporally ordered data.",
        "Random splits leak future information into training and give optimistic scores.",
        (Hyp("train_test_split with shuffle=True on time-ordered rows", "check the split's time ranges"),),
        "Split by time: the first part trains, the last part tests.",
        "train_test_split(X, y, shuffle=True)",
        "train_test_split(X, y, shuffle=False)",
    ),
    # ── architecture ────────────────────────────────────────────────────────
    Code(
        "batch-mixing", "architecture", "One sample's output depends on other samples in the batch", "error", MECHANISM,
        "Perturbs one sample of a batch (model in eval mode) and checks whether other samples' outputs change.",
        "Outputs that mix samples usually come from reshape/view where transpose/permute was meant: the "
        "model trains on scrambled data and the results do not transfer.",
        (Hyp("view/reshape used to swap dimensions", "replace the view with permute and re-run this probe"),
         Hyp("a normalization or attention over the batch dimension", "check which dim each norm/attention reduces over", "subtle")),
        "Use permute/transpose to reorder dimensions; reduce over the intended dims only.",
        "x = x.view(T, B, D)   # x is (B, T, D)",
        "x = x.transpose(0, 1)  # (T, B, D)",
        ("cannot-overfit-batch", "loss-plateau"),
    ),
    Code(
        "causal-leak", "architecture", "Outputs at position t depend on inputs after t", "error", MECHANISM,
        "Checks by gradient that a causal sequence model does not see the future.",
        "A language model that sees the next token learns to copy it and fails at generation.",
        (Hyp("the attention mask is missing or transposed", "backprop from output t and check input grads after t"),),
        "Apply a causal mask (is_causal=True or a triangular mask).",
        "attn(q, k, v)",
        "F.scaled_dot_product_attention(q, k, v, is_causal=True)",
        ("label-leakage",),
    ),
    Code(
        "cannot-overfit-batch", "architecture", "The model cannot overfit a single batch", "error", OVERFIT,
        "Trains a copy on one batch and checks the loss falls close to zero.",
        "Any working model can memorize one batch; failing to means a bug in the loss, gradient flow or data.",
        (Hyp("gradient flow is broken (detach, frozen or unused layers)", "check per-layer grad norms"),
         Hyp("the loss or labels are wrong", "compute the loss by hand for two samples", "subtle")),
        "Inspect gradient flow and the loss function before tuning anything.",
        "# a loss that cannot reach 0 on one batch",
        "# the same batch driven to ~0 loss in a few hundred steps",
    ),
    Code(
        "constant-output", "architecture", "The model outputs the same value for every sample", "warning", CONSTANT,
        "Detects outputs that are identical across the samples of a batch.",
        "Constant outputs mean the input is ignored: dead units, collapsed features, or a target that "
        "rewards predicting the mean.",
        (Hyp("dead activations or zero init", "print per-layer activation std"),
         Hyp("class imbalance rewards the majority class", "print the label histogram", "subtle")),
        "Check activations, init and the label distribution.",
        "nn.init.zeros_(layer.weight)",
        "nn.init.kaiming_uniform_(layer.weight)",
    ),
    Code(
        "input-ignored", "architecture", "The model does as well on random inputs as on real ones", "warning", CONSTANT,
        "Compares the loss on real inputs with the loss on zeroed / random inputs.",
        "If destroying the input does not hurt, the model learned the label prior, not the task.",
        (Hyp("inputs and labels are misaligned", "shuffle labels and compare losses"),),
        "Check the data pipeline's pairing of inputs and labels.",
        "x, y = xs[idx], ys[perm[idx]]",
        "x, y = xs[idx], ys[idx]",
    ),
    Code(
        "batch-size-assumption", "architecture", "The model breaks on a different batch size", "error", MECHANISM,
        "Reruns the batch with a prime batch size (7) and checks the forward pass, the loss and the output shape.",
        "Code that hard-codes the batch size (a view with a literal size, a fixed-size buffer) fails on the "
        "last, smaller batch of an epoch, or silently reshapes samples into each other.",
        (Hyp("a view/reshape with a literal batch size", "grep the forward for view( and reshape( with numbers"),
         Hyp("a buffer or mask built for one batch size", "print the shapes of registered buffers", "subtle")),
        "Derive sizes from the input (x.shape[0], -1) instead of constants.",
        "h = h.view(64, -1)",
        "h = h.view(h.shape[0], -1)",
    ),
    Code(
        "nondeterministic-eval", "architecture", "Evaluation runs training-mode behaviour (dropout, batch statistics)", "warning",
        MISMATCH,
        "Records the operations an eval-mode forward runs on a copy: dropout in training form (F.dropout's `training` "
        "defaults to True), a random mask of constant rate multiplied in by hand, attention dropout, batch statistics "
        "although running ones exist; and compares two passes with the same random draws. Sampling by design "
        "(randn, multinomial, ... in a VAE, a diffusion step, a policy) is not a finding.",
        "Training-mode behaviour left on at evaluation (dropout that ignores eval(), the batch's statistics instead "
        "of the running ones) makes metrics noisy, batch-dependent and irreproducible.",
        (Hyp("F.dropout(x, p) without training=self.training, or a dropout module whose forward ignores self.training",
             "grep forward for dropout( and bernoulli"),
         Hyp("F.batch_norm(..., training=True) or attention dropout_p set whatever the mode",
             "grep for batch_norm( and dropout_p", "subtle"),
         Hyp("the forward keeps state between calls (a counter, a cache)", "call the model twice on one batch in eval "
             "mode and compare", "subtle")),
        "Tie dropout and batch statistics to self.training; use model.eval() semantics in custom code.",
        "x = F.dropout(x, p=0.1)",
        "x = F.dropout(x, p=0.1, training=self.training)",
    ),
    Code(
        "bad-custom-gradient", "numerics", "A custom autograd.Function's backward disagrees with finite differences", "error", MECHANISM,
        "Runs torch.autograd.gradcheck in float64 on each custom autograd.Function the model calls.",
        "A wrong hand-written backward trains the model on wrong gradients, silently.",
        (Hyp("a sign or transpose error in backward", "compare backward with torch.autograd.functional.jacobian on tiny inputs"),),
        "Fix the backward until gradcheck passes in float64.",
        "def backward(ctx, g): return g * ctx.saved_tensors[0]",
        "def backward(ctx, g): x, = ctx.saved_tensors; return g * 2 * x",
    ),
    Code(
        "squeeze-without-dim", "loss and targets", "squeeze() without a dim feeds the loss", "warning", MECHANISM,
        "Flags `.squeeze()` with no dim argument passed straight to a loss.",
        "squeeze() removes every size-1 dimension, the batch dimension too when a batch has one sample "
        "(the last batch of an epoch): the loss then broadcasts or fails only on that batch.",
        (Hyp("the (B, 1) output was meant to become (B,)", "run the loss on a batch of one sample"),),
        "Name the dimension: squeeze(-1) or squeeze(1).",
        "loss = criterion(model(x).squeeze(), y)",
        "loss = criterion(model(x).squeeze(-1), y)",
        ("broadcast-loss",),
    ),
    Code(
        "unsafe-torch-load", "security", "torch.load can execute code from the file", "warning", MECHANISM,
        "Flags torch.load with weights_only=False (a warning), or without weights_only (info: safe by default from torch 2.6).",
        "torch.load unpickles: a checkpoint from an untrusted source can run arbitrary code when loaded.",
        (Hyp("the checkpoint holds more than tensors (optimizer objects, custom classes)", "load with weights_only=True and see what fails"),),
        "Load with weights_only=True; save plain state_dicts.",
        "state = torch.load(path, weights_only=False)",
        "state = torch.load(path, weights_only=True)",
    ),
    Code(
        "inplace-on-leaf", "numerics", "In-place update of a leaf tensor that requires grad", "error", MECHANISM,
        "Flags in-place operations (+=, x[i] = ..., x.add_()) on tensors created with requires_grad=True, outside no_grad.",
        "Autograd forbids modifying a leaf that requires grad in place; manual updates must run under torch.no_grad().",
        (Hyp("a manual SGD update outside torch.no_grad()", "wrap the update in `with torch.no_grad():`"),),
        "Update parameters under torch.no_grad(), or use an optimizer.",
        "w = torch.randn(3, requires_grad=True)\n...\nw -= lr * w.grad",
        "with torch.no_grad():\n    w -= lr * w.grad",
    ),
    # ── curves ──────────────────────────────────────────────────────────────
    *(
        Code(code, "curves", title, sev, stage, what, why, hyps, nxt, "", "")
        for code, title, sev, stage, what, why, hyps, nxt in (
            ("loss-plateau", "The loss stopped decreasing", "warning", STUCK,
             "Detects a loss curve that stays flat for a long stretch.",
             "A flat loss from the start points to a learning rate that is too low, dead gradients or a wrong loss.",
             (Hyp("learning rate too low", "try 10x the LR for 100 steps"), Hyp("gradients are zero or disconnected", "log per-layer grad norms", "subtle")),
             "Check gradient flow, then the learning rate."),
            ("loss-oscillation", "The loss oscillates instead of decreasing", "warning", EXPLODES,
             "Detects a loss that swings up and down without trend.",
             "Large oscillations usually mean the learning rate is too high or the batches are not shuffled.",
             (Hyp("learning rate too high", "rerun with lr / 10"), Hyp("data is not shuffled", "check shuffle=True on the loader", "subtle")),
             "Lower the LR; check shuffling."),
            ("loss-spikes", "The loss has sudden spikes", "warning", EXPLODES,
             "Detects isolated jumps of the loss far above its trend.",
             "Spikes come from outlier batches or momentary gradient explosions.",
             (Hyp("gradient explosion on some batches", "log the pre-clip grad norm at the spike"), Hyp("a corrupt or outlier batch", "log the batch indices at the spike", "subtle")),
             "Log grad norms and batch ids around the spikes."),
            ("loss-divergence", "The loss diverges", "error", EXPLODES,
             "Detects a loss that grows without bound or becomes non-finite.",
             "A diverging loss means the optimization is unstable.",
             (Hyp("learning rate too high", "rerun with lr / 10"), Hyp("numerical instability (log 0, exp overflow)", "find the first non-finite module", "subtle")),
             "Lower the LR; look for unguarded log/exp/div."),
            ("overfitting", "Validation loss rises while training loss falls", "warning", GAP,
             "Detects a widening gap between training and validation loss.",
             "The model memorizes the training set.",
             (Hyp("too little data or too much capacity", "compare with a smaller model"),),
             "Regularize, augment, or stop earlier."),
            ("loss-metric-mismatch", "The loss improves but the metric does not", "warning", MISMATCH,
             "Detects a decreasing loss with a flat evaluation metric.",
             "Minimizing the loss may not improve the metric you care about.",
             (Hyp("the loss is not aligned with the metric", "compute the metric on the training batch"),),
             "Check that minimizing the loss improves the metric."),
            ("underfitting", "The loss settled at a high floor", "info", STUCK,
             "Detects a loss that fell at first, then stayed flat above half its starting value.",
             "A loss that stops early at a high level means the model fits the data no better: too little "
             "capacity, a learning rate that decayed too early, or a floor set by the data itself. A curve "
             "cannot tell these apart (nor a hard task from a broken one), hence only a note; overfitting one "
             "batch can.",
             (Hyp("the model is too small or too constrained (heavy regularization, frozen layers)",
                  "overfit one batch (`traindoctor checkup`): a model that cannot is the problem"),
              Hyp("the learning rate decayed, or was lowered, too early", "plot the LR next to the loss; retry with a longer schedule", "subtle"),
              Hyp("the floor is the data's: label noise or an ambiguous task", "relabel a sample by hand; compare with a known baseline's loss", "null")),
             "Overfit one batch; if that works, grow the model or lengthen the schedule."),
            ("slow-convergence", "The loss decreases, slowly", "info", STUCK,
             "Detects a steady but slow decrease.",
             "Slow is not stuck; it may be capacity, batch size or learning rate.",
             (Hyp("learning rate on the low side", "run an LR range test"),),
             "Consider the LR, batch size and model size."),
        )
    ),
    # ── jax ─────────────────────────────────────────────────────────────────
    Code(
        "prng-key-reuse", "jax", "A JAX PRNG key is used twice", "error", MECHANISM,
        "Detects a PRNG key consumed by two random calls without a split.",
        "Reusing a key gives identical 'random' numbers: dropout masks and inits repeat.",
        (Hyp("jax.random.* called twice with the same key", "print both draws"),),
        "Split the key before every use.",
        "a = jax.random.normal(key, s); b = jax.random.normal(key, s)",
        "k1, k2 = jax.random.split(key); a = jax.random.normal(k1, s); b = jax.random.normal(k2, s)",
    ),
    Code(
        "jit-side-effect", "jax", "A jitted function has Python side effects", "warning", MECHANISM,
        "Detects printing, appending or mutation of globals inside jax.jit functions.",
        "Side effects run once at trace time, not on every call.",
        (Hyp("print or list.append inside a jitted function", "call the function twice and compare"),),
        "Use jax.debug.print and return values instead of mutating state.",
        "@jax.jit\ndef f(x): print(x); return x",
        "@jax.jit\ndef f(x): jax.debug.print('{}', x); return x",
    ),
    # ── meta ────────────────────────────────────────────────────────────────
    Code(
        "script-error", "meta", "The training script raised an exception", "error", EXCEPTION,
        "Reports the exception that stopped the script, with its traceback.",
        "An exception ends training; the traceback usually names the line to fix.",
        (Hyp("the traceback's last frame in your code", "read the traceback from the bottom"),),
        "Fix the error the traceback points to, then run traindoctor again.",
        "", "",
    ),
)


def get(code: str) -> Code:
    try:
        return CATALOG[code]
    except KeyError:
        raise KeyError(f"unknown finding code {code!r}; add it to traindoctor.codes") from None
