"""The optimizer, the scheduler and the training loop around them."""

from ..hypothesis import Hypothesis
from . import Code, MECHANISM, OVERFIT, STUCK, EXPLODES

AREA = "optimizer and loop"

CODES = (
    Code(
        code="over-regularization",
        title="Regularisation outweighs the data term",
        severity="error",
        stage=STUCK,
        what=(
            "An experiment on a copy: with the penalty written into the loss, the optimizer's weight decay, the "
            "forward's dropout and the loss's label smoothing turned off, the same steps on a recorded batch take "
            "the data term (the loss without them) at least twice as low as the regularised objective does; with "
            "dropout or smoothing, from the weights training started from, since trained weights may sit at the "
            "floor they set. A penalty is a term computed from the weights alone, or one computed "
            "from the outputs that reads no target beside a term that does (a sparsity or size penalty on "
            "activations, a VAE's KL); one on the outputs counts only when the task does not move while it is on."),
        why=(
            "A penalty that dominates the objective pins the weights near zero: the optimizer trades the data term "
            "for smaller weights, and the loss stops far above what the model can reach (TheDeepChecker's "
            "over-regularisation fault)."),
        hypotheses=(
            Hypothesis("the penalty's coefficient is orders of magnitude too large (0.1 meant as 1e-5), or it "
                       "sums over every weight without being scaled by the data size",
                       "print the data term and the penalty apart: the penalty is comparable or larger"),
            Hypothesis("a dropout probability or a label smoothing given as the share kept (TensorFlow's "
                       "keep_prob=0.9, a target confidence of 0.9): PyTorch's p is the share dropped, label_smoothing "
                       "the share spread over the classes",
                       "print each nn.Dropout's p and the loss's label_smoothing: near 1, use 1 minus it"),
            Hypothesis(
                cause="the weight of a penalty on the outputs or a latent (a KL x 100, a sparsity x 100) makes the "
                      "task term irrelevant",
                check="print each term times its weight: the penalty's is the larger, and falls while the task's "
                      "does not",
                kind="subtle",
            ),
            Hypothesis(
                cause="weight decay set for a coupled optimizer (Adam with L2) at an AdamW-sized value",
                check="use AdamW for decoupled decay, or scale weight_decay down by 100x",
                kind="subtle",
            ),
        ),
        next_step="Lower the regularisation coefficient until the data term falls; tune it on validation loss.",
        bad="loss = ce + 0.1 * sum((w ** 2).sum() for w in model.parameters())",
        good="loss = ce + 1e-5 * sum((w ** 2).sum() for w in model.parameters())",
        # A dominating penalty is also what loss-imbalance sees as a task displaced by a term that reads no target.
        explains=("loss-plateau", "underfitting", "slow-convergence", "vanishing-gradients", "cannot-overfit-batch",
                  "input-ignored", "constant-output", "loss-imbalance"),
    ),
    Code(
        code="clipping-every-step",
        title="Gradient clipping sets the step size",
        severity="info",
        stage=MECHANISM,
        what=(
            "Detects runs where clip_grad_norm_ cuts nearly every step's gradient by an order of magnitude or more; "
            "an error in `run` when the loss does not learn (the experiments' arms, which do not clip, then show "
            "the same optimizer fitting a batch)."),
        why=(
            "Clipping is meant to cut rare spikes. When almost every gradient is rescaled to max_norm, each update "
            "has length lr x max_norm whatever the gradient says: the clip hides a loss scale or learning rate out "
            "of range, and changing max_norm silently changes the effective learning rate."),
        hypotheses=(
            Hypothesis(
                cause="max_norm far below the gradients' natural scale (e.g. 0.01 for norms near 1)",
                check="log the norm clip_grad_norm_ returns for a few steps and compare it with max_norm",
            ),
            Hypothesis(
                cause="the loss is scaled up (a sum instead of a mean, a large weight) and the clip compensates",
                check="divide the loss by its number of terms and see if the clipped fraction drops",
                kind="subtle",
            ),
        ),
        next_step="Set max_norm near the typical unclipped gradient norm (or a little above), then tune the learning rate.",
        bad="loss.backward()\nnn.utils.clip_grad_norm_(model.parameters(), 0.01)  # gradients of norm ~1\nopt.step()",
        good="loss.backward()\nnn.utils.clip_grad_norm_(model.parameters(), 1.0)  # cuts only spikes\nopt.step()",
        explains=("slow-convergence", "lr-too-low", "loss-plateau", "underfitting", "cannot-overfit-batch"),
    ),
    Code(
        code="grad-not-zeroed",
        title="Gradients accumulate across optimizer steps",
        severity="error",
        stage=MECHANISM,
        what="Detects optimizer steps whose gradients were never reset since the previous step.",
        why=(
            "backward() adds into .grad. Without zero_grad each step applies the sum of all past gradients: the "
            "effective learning rate grows every step until training diverges or thrashes."),
        hypotheses=(
            Hypothesis(
                cause="optimizer.zero_grad() is missing from the loop",
                check="print a parameter's grad norm before backward on two steps",
            ),
            Hypothesis(
                cause="zero_grad is called on a different optimizer or model than the one stepped",
                check="compare id(optimizer) at zero_grad and step",
                kind="subtle",
            ),
        ),
        next_step="Call optimizer.zero_grad(set_to_none=True) once per optimizer step (before backward).",
        bad="for x, y in loader:\n    loss_fn(model(x), y).backward()\n    opt.step()",
        good=(
            "for x, y in loader:\n"
            "    opt.zero_grad(set_to_none=True)\n"
            "    loss_fn(model(x), y).backward()\n"
            "    opt.step()"),
        explains=(
            "exploding-gradients", "lr-too-high", "loss-divergence", "loss-oscillation", "nonfinite-forward",
            "nonfinite-backward", "init-loss-mismatch",
        ),
    ),
    Code(
        code="zero-grad-misplaced",
        title="Gradients are cleared between backward and step",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects optimizer steps that find every gradient zeroed although backward ran since the last step; "
            "and steps where a zero_grad() erased the gradients an earlier backward() had left on some parameters "
            "(a second loss's backward, the next task of a loop) and no later backward() gave them any back."),
        why=(
            "zero_grad between backward() and step() throws the gradients away: the optimizer steps on nothing "
            "(or only on weight decay) and the model never learns. Between two backward() calls it throws away "
            "the first one's: the parameters only that loss reaches (its head) never train."),
        hypotheses=(
            Hypothesis(
                cause="zero_grad() sits after backward() instead of before it",
                check="print the grad norm right before optimizer.step()",
            ),
            Hypothesis(
                cause="zero_grad() sits inside the loop over losses or tasks whose gradients should add up",
                check="call zero_grad() once, before the first backward() of the step",
            ),
        ),
        next_step="Move zero_grad before backward (or after step).",
        bad="loss.backward()\nopt.zero_grad()\nopt.step()",
        good="opt.zero_grad()\nloss.backward()\nopt.step()",
        explains=("loss-plateau", "cannot-overfit-batch", "lr-too-low", "optimizer-params-unused"),
    ),
    Code(
        code="scheduler-too-fast",
        title="The learning rate collapses within the first epoch",
        severity="error",
        stage=MECHANISM,
        what=("Detects a learning rate that falls by 100x or more within half an epoch of optimizer steps; or, when the "
              "loss does not learn, a schedule that lowered the rate 10x or more while the loss was still falling at "
              "it, where one batch fits again at the old rate. Annealing a loss that had already converged at the "
              "high rate is the intended end of a schedule, not a collapse."),
        why=(
            "Per-epoch schedulers (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR) stepped once per batch "
            "run their whole schedule in a few dozen steps; the rest of training runs at a learning rate near "
            "zero and the loss freezes."),
        hypotheses=(
            Hypothesis(
                cause="scheduler.step() is inside the batch loop while the schedule is counted in epochs",
                check="print scheduler.get_last_lr() after each epoch",
            ),
            Hypothesis(
                cause="step_size / T_max was meant in batches but set in epochs",
                check="compare T_max or step_size with len(loader)",
                kind="subtle",
            ),
        ),
        next_step="Step per-epoch schedulers once per epoch, or express their period in optimizer steps.",
        bad="for x, y in loader:\n    ...; opt.step(); sched.step()   # StepLR(step_size=30)",
        good="for epoch in range(E):\n    for x, y in loader: ...; opt.step()\n    sched.step()",
        explains=("lr-too-low", "loss-plateau", "slow-convergence", "cannot-overfit-batch"),
    ),
    Code(
        code="params-not-in-optimizer",
        title="Parameters get gradients but no optimizer updates them",
        severity="error",
        stage=MECHANISM,
        what="Detects parameters of the model that receive gradients and belong to no optimizer.",
        why=(
            "A layer created (or replaced) after the optimizer was built keeps its random initial weights "
            "forever: it gets gradients that nobody applies."),
        hypotheses=(
            Hypothesis(
                cause="the optimizer was created before a layer was added or replaced",
                check="check that every name in model.named_parameters() is in the optimizer",
            ),
            Hypothesis(
                cause="param groups list only a sub-module",
                check="print the optimizer's param groups sizes",
                kind="subtle",
            ),
        ),
        next_step="Build the optimizer after the model is complete, from model.parameters().",
        bad="opt = torch.optim.Adam(model.parameters())\nmodel.head = nn.Linear(64, 10)",
        good="model.head = nn.Linear(64, 10)\nopt = torch.optim.Adam(model.parameters())",
        explains=("cannot-overfit-batch", "loss-plateau", "labels-decoupled"),
    ),
    Code(
        code="optimizer-params-unused",
        title="Optimizer parameters never receive a gradient",
        severity="warning",
        stage=OVERFIT,
        what=("Detects parameters handed to an optimizer whose .grad stays None at every step, unless the script "
              "changes their values itself (an EMA teacher kept in the same module)."),
        why=(
            "A parameter without a gradient is disconnected from the loss: a detach(), .data or .item() in the "
            "forward path, an unused branch, or a layer the loss never reaches."),
        hypotheses=(
            Hypothesis(
                cause="the forward path cuts the graph (detach, .data, .item(), numpy round-trip)",
                check="check out.grad_fn is not None at the layer's output",
            ),
            Hypothesis(
                cause="the module is defined but never called in forward",
                check="count the module's forward calls with a hook",
                kind="subtle",
            ),
        ),
        next_step="Find where the graph is cut between these parameters and the loss.",
        bad="h = self.encoder(x).detach()\nreturn self.head(h)",
        good="h = self.encoder(x)\nreturn self.head(h)",
        explains=("cannot-overfit-batch", "loss-plateau"),
    ),
    Code(
        code="frozen-params",
        title="The optimizer holds parameters with requires_grad=False",
        severity="info",
        stage=MECHANISM,
        what="Reports optimizer parameters that are frozen; an error when every parameter is frozen.",
        why=(
            "Frozen parameters never change. When that is intended (fine-tuning a head) this is context; when "
            "every parameter is frozen nothing trains."),
        hypotheses=(
            Hypothesis("a freeze loop froze more than intended", "count p.requires_grad over model.parameters()"),
        ),
        next_step="Unfreeze what should train; pass only trainable parameters to the optimizer.",
        bad="for p in model.parameters(): p.requires_grad = False\nopt = SGD(model.parameters(), lr=0.1)",
        good=(
            "for p in model.backbone.parameters(): p.requires_grad = False\n"
            "opt = SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)"),
    ),
    Code(
        code="lr-too-high",
        title="The learning rate is too high: updates rival the weights",
        severity="error",
        stage=EXPLODES,
        what="Detects divergence preceded by update/parameter ratios far above the usual ~1e-3.",
        why=(
            "When one optimizer step changes the weights by a sizeable fraction of their norm, the loss jumps "
            "out of the basin: it oscillates, climbs or becomes NaN."),
        hypotheses=(
            Hypothesis(
                cause="the learning rate is 10-1000x too large for this model and optimizer",
                check="rerun with lr / 10 and watch the update ratio",
            ),
            Hypothesis(
                cause="the loss is summed over the batch or its elements (reduction='sum') while the SGD rate was "
                      "tuned for their mean: each step is N times too long",
                check="average the loss (reduction='mean'), or divide the rate by the number of summed terms",
                kind="subtle",  # `run` measures the sum and names it in the observation when it is there
            ),
            Hypothesis(
                cause="there is no warmup for a large model",
                check="add linear warmup over the first few hundred steps",
                kind="subtle",
            ),
        ),
        next_step=(
            "Lower the learning rate until the update/parameter ratio sits near 1e-3; add warmup or clipping."),
        bad="opt = torch.optim.SGD(model.parameters(), lr=5.0)",
        good="opt = torch.optim.SGD(model.parameters(), lr=0.05)",
        # Steps that overshoot kill units (a ReLU's bias pushed below every input) and what is left of the model
        # outputs a constant: the dead layer and the ignored inputs are what the blow-up did.
        explains=(
            "nonfinite-forward", "nonfinite-backward", "exploding-gradients", "loss-divergence",
            "loss-oscillation", "loss-spikes", "cannot-overfit-batch", "dead-relu", "input-ignored",
        ),
    ),
    Code(
        code="lr-too-low",
        title="The learning rate is too low: the weights barely move",
        severity="warning",
        stage=STUCK,
        what="Detects update/parameter ratios below 1e-5 while the loss does not improve.",
        why="With updates a millionth of the weights, training would need millions of steps to move.",
        hypotheses=(
            Hypothesis(
                cause="the learning rate is orders of magnitude too small",
                check="rerun with lr x 10 and compare the first 100 steps",
            ),
            Hypothesis("a scheduler decayed the learning rate too early", "print the LR per step", kind="subtle"),
            Hypothesis(
                cause="the loss is averaged over many elements (every pixel or token) while the SGD rate was tuned "
                      "for their sum: each step is N times too short",
                check="compare the rate with the one used where the loss was a sum; multiply it by the element count",
                kind="subtle",
            ),
            Hypothesis(
                cause="the loss is divided twice by the count: a mean, then divided by the batch size again "
                      "(F.mse_loss(out, x) / len(x)), so each SGD step is N times too short",
                check="drop the second division; `run`'s experiments train a copy at the rate times the divisor",
                kind="subtle",
            ),
            Hypothesis(
                cause="a warmup (or ramp) longer than the run: the schedule never reaches the rate it is set to",
                check="compare warmup_steps with the run's steps; print the LR the last step used",
                kind="subtle",
            ),
        ),
        next_step="Raise the learning rate (an LR range test finds a good one).",
        bad="opt = torch.optim.Adam(model.parameters(), lr=1e-7)",
        good="opt = torch.optim.Adam(model.parameters(), lr=1e-3)",
        explains=("loss-plateau", "slow-convergence", "cannot-overfit-batch"),
    ),
    Code(
        code="no-grad-training",
        title="Training steps run under no_grad",
        severity="error",
        stage=MECHANISM,
        what="Detects a training loop whose forward pass runs with gradients disabled.",
        why=(
            "Under torch.no_grad the loss has no graph; backward fails or, if the graph was cut silently, the "
            "optimizer steps on stale gradients."),
        hypotheses=(
            Hypothesis(
                cause="the training loop sits inside `with torch.no_grad()` meant for evaluation",
                check="check torch.is_grad_enabled() in the loop",
            ),
        ),
        next_step="Run training forwards with gradients enabled; keep no_grad for evaluation.",
        bad="with torch.no_grad():\n    for x, y in loader: train_step(x, y)",
        good="for x, y in loader: train_step(x, y)",
    ),
    Code(
        code="graph-break",
        title="The loss path leaves autograd",
        severity="error",
        stage=MECHANISM,
        what=("Detects .item(), .numpy(), .detach(), .data or re-wrapping into a new tensor inside the loss path "
              "(lint, run; in run, a loss whose autograd graph reaches none of the weights an optimizer or a model "
              "holds, and a model's own output fed back detached into its next call within one step — a recurrent "
              "cell's state detached inside the loop over time; measured on a copy, a module called several times in one "
              "forward whose every later call reads its earlier state past a cut that the loss depends on — a "
              "state detached at each step, only an LSTM's c detached, a state stored on the module detached), and "
              "— measured on a copy in run — parameters the optimizer updates whose gradient is "
              "exactly zero although moving them moves the loss, with the call where their path stops (a .detach(), "
              "an argmax, .item() rebuilt into a tensor, a distribution's sample(), a rounding — asked also while "
              "the loss falls, when their gradient was exactly zero at every recorded step; a model run under "
              "torch.no_grad() for another model's training inputs, as in a collate_fn); and, per term "
              "of a multi-term loss, parameters a term sends no gradient to past a cut that a layer of the term reads."),
        why=(
            "Values that leave autograd carry no gradient: the parameters before the break stop learning without "
            "any error."),
        hypotheses=(
            Hypothesis(
                cause="a value is converted to Python or numpy and back",
                check="check loss.grad_fn and the grad of the first layer",
            ),
            Hypothesis(
                cause="a .detach(), .data, torch.no_grad() block, a distribution's .sample() (rsample() carries the "
                      "gradient) or an argmax or rounding without a straight-through estimator inside forward cuts "
                      "the weights before it",
                check="print p.grad for the named parameters after backward(): None or all zeros; remove the named call "
                      "and they get one",
            ),
            Hypothesis(
                cause="the cut is deliberate (a frozen encoder, a stop-gradient target)",
                check="if so, leave those parameters out of the optimizer so the intent is explicit",
                kind="null",
            ),
        ),
        next_step="Keep the computation in torch ops end to end; freeze on purpose with requires_grad_(False).",
        bad="loss = torch.tensor(criterion(out, y).item(), requires_grad=True)",
        good="loss = criterion(out, y)",
        # The permutation test fits copies that share the cut: only the layers past it learn, so a relation
        # that needs the layers before it reads as targets that do not follow the inputs.
        explains=("optimizer-params-unused", "cannot-overfit-batch", "labels-decoupled"),
    ),
    Code(
        code="state-not-detached",
        title="A loss backpropagates into an earlier step's graph",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects a backward() whose graph reaches a model output built during an earlier optimizer step, "
            "computed with parameters an optimizer's step has changed since: state carried from step to step with its "
            "graph (a recurrent hidden state, a running average of the loss, a memory of features). Seen when "
            "backward() raises that the graph was freed or that a saved tensor was modified in place (the "
            "parameter it is, matched by shape and version, is named), and on sampled steps where nothing fails."),
        why=(
            "Each optimizer step's loss should backpropagate only through graph built during that step. A carried "
            "tensor that keeps its graph makes the next backward run into the previous step's graph: torch raises "
            "\"Trying to backward through the graph a second time\"; with retain_graph=True it raises instead that "
            "a variable needed for the gradient was modified by an inplace operation (the optimizer's update of a "
            "weight the old graph saved); and where nothing saved changed nothing fails, but every step "
            "backpropagates through all earlier ones with stale weights, slower and slower, and memory grows."),
        hypotheses=(
            Hypothesis(
                cause="a recurrent hidden state returned by the model is fed to the next batch's call without .detach()",
                check="detach it where it is carried (`h = h.detach()`, for an LSTM `h = tuple(t.detach() for t in h)`) "
                      "and run again: the error is gone and the step time stays flat",
            ),
            Hypothesis(
                cause="a value kept across steps (a running average of the loss, a memory buffer, an EMA target) is "
                      "built from tensors that carry gradient",
                check="print `.grad_fn` of the kept tensor at the start of a step: it should be None; keep "
                      "`.detach()` or `.item()` of what is added to it",
            ),
            Hypothesis(
                cause="retain_graph=True was added to silence \"backward through the graph a second time\", which "
                      "hid the carried state",
                check="remove retain_graph=True: the loop then fails at its second step",
                kind="subtle",
            ),
            Hypothesis(
                cause="backpropagating through several steps is meant (BPTT over a window of batches)",
                check="then the optimizer must not step inside the window: sum the window's losses and call "
                      "backward() and step() once per window",
                kind="null",
            ),
        ),
        next_step="Detach the state carried between optimizer steps (truncated BPTT: `h = h.detach()` after each step).",
        bad=("h = None\nfor x, y in batches:\n    out, h = model(x, h)\n    loss = loss_fn(out, y)\n"
             "    opt.zero_grad(); loss.backward(retain_graph=True); opt.step()"),
        good=("h = None\nfor x, y in batches:\n    out, h = model(x, h)\n    loss = loss_fn(out, y)\n"
              "    opt.zero_grad(); loss.backward(); opt.step()\n    h = tuple(t.detach() for t in h)"),
        explains=("script-error",),
    ),
    Code(
        code="target-network-stale",
        title="The target network does not follow the network it stands for",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects a model run only without gradients whose outputs build the targets of another model's loss, on "
            "other inputs than that model's (a TD target on next states), that is a copy of it (same parameter "
            "shapes, equal values at one of its calls), and whose parameters never change while its twin's move — "
            "when the run proves the copy is not followed: a sync that wrote it in place and left its values, a sync "
            "that brought its twin back to its values, or a script that ran to its end without one. A run stopped "
            "by the step budget says in could-not-check that a longer sync period looks the same. An EMA or mean "
            "teacher changes; a frozen teacher is no copy, or runs on its student's own batch."),
        why=(
            "A target network stands for the trained network with a delay: DQN copies it every K steps, DDPG and "
            "SAC average towards it. Never synced, every target is the random initial network's: the trained "
            "network regresses onto noise that never improves, and its values stay flat or drift while the loss "
            "looks healthy."),
        hypotheses=(
            Hypothesis("the sync is gated by a counter that is never incremented, or by a condition that never holds",
                       "print the counter and the condition at the sync line for a few steps"),
            Hypothesis("the sync copies the wrong way (online.load_state_dict(target.state_dict()))",
                       "compare a weight of both networks right after the sync step: the online one jumped back"),
            Hypothesis("a fresh copy is made but assigned to a local or another attribute, or the state dict loaded "
                       "was saved earlier (a deepcopy of the initial one)",
                       "print id(target) where it is used and where it is synced; print a weight of the target "
                       "before and after the sync"),
            Hypothesis("the soft-update coefficient tau is 0 (or 1 - tau is applied to the online network)",
                       "print tau and a target weight across two updates", kind="subtle"),
            Hypothesis("a frozen copy is meant (a reference policy for a KL penalty, a teacher kept from the start)",
                       "then nothing needs to follow: the finding does not apply", kind="null"),
        ),
        next_step="Sync the target from the trained network (target.load_state_dict(online.state_dict()) every K "
                  "steps, or Polyak-average with 0 < tau <= 1) and check that a target weight changes at the sync.",
        bad=("if self.learn_counter % SYNC == 0:   # learn_counter is never incremented\n"
             "    self.target.load_state_dict(self.q.state_dict())"),
        good=("self.learn_counter += 1\nif self.learn_counter % SYNC == 0:\n"
              "    self.target.load_state_dict(self.q.state_dict())"),
        # its targets come from a network that does not follow, not from the inputs: an experiment reads them as
        # targets that do not follow the inputs
        explains=("loss-plateau", "slow-convergence", "underfitting", "labels-decoupled"),
    ),
)
