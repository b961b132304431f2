"""Loss functions and the targets fed to them."""

from ..hypothesis import Hypothesis
from . import Code, MECHANISM, INIT_LOSS, MISMATCH, STUCK

AREA = "loss and targets"

CODES = (
    Code(
        code="target-out-of-range",
        title="Targets lie outside what the loss accepts",
        severity="error",
        stage=MECHANISM,
        what="Detects binary cross-entropy given targets outside [0, 1] (class ids, unscaled values).",
        why=(
            "Binary cross-entropy is a log-likelihood for targets in [0, 1]. Given 2 or 255, it is unbounded below: "
            "the loss goes negative without limit while the model learns nothing about the task."),
        hypotheses=(
            Hypothesis(
                cause="a multi-class problem trained with a binary loss on class ids",
                check="print target.unique(): more than two values means cross_entropy with C outputs",
            ),
            Hypothesis(
                cause="soft targets not scaled to [0, 1] (pixel values, counts)",
                check="print target.min() and target.max() at the loss",
                kind="subtle",
            ),
        ),
        next_step="Use cross_entropy with one output per class for class ids; scale soft targets into [0, 1].",
        bad="criterion = nn.BCEWithLogitsLoss()\nloss = criterion(model(x).squeeze(1), y.float())  # y in {0, 1, 2}",
        good="criterion = nn.CrossEntropyLoss()\nloss = criterion(model(x), y)  # 3 outputs",
        # a target outside the loss's domain (BCE with a target of 2) makes the loss unbounded below: its fall
        # without bound is this, not a flipped sign
        explains=("loss-divergence", "init-loss-mismatch", "exploding-gradients", "cannot-overfit-batch",
                  "loss-sign-flipped"),
    ),
    Code(
        code="output-range-mismatch",
        title="The model's last op cannot reach the targets",
        severity="error",
        stage=MECHANISM,
        what="Detects a regression whose prediction is bounded by its last op (sigmoid, tanh, ReLU) while many "
             "targets lie outside that bound.",
        why=(
            "A sigmoid output lives in (0, 1), a tanh in (-1, 1), a ReLU at or above 0. Targets beyond the bound "
            "set a floor under the loss; the output saturates trying to reach them and its gradient vanishes."),
        hypotheses=(
            Hypothesis(
                cause="an output activation left on a regression head",
                check="remove the last activation (or scale the targets into its range) and compare the first steps",
            ),
            Hypothesis(
                cause="targets not scaled to the range the activation was chosen for",
                check="print the targets' min and max at the loss",
                kind="subtle",
            ),
        ),
        next_step="Drop the bounding activation from the regression output, or scale the targets into its range.",
        bad="model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())  # y up to 40",
        good="model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))",
        explains=("loss-plateau", "saturated-activations", "cannot-overfit-batch", "underfitting"),
    ),
    Code(
        code="activation-on-logits",
        title="The logits pass through an activation that clips or bounds them before the loss",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects a loss that expects unbounded logits (cross-entropy, a with-logits loss, nll_loss after "
            "log_softmax) whose input is made by a ReLU-like op, or by an op that bounds it (a sigmoid, a tanh, "
            "a clamp or hardtanh) tightly enough that the loss cannot fall below a tenth of chance: with C "
            "classes and logits in [low, high], cross-entropy's floor is ln(1 + (C - 1) e^-(high - low)). A "
            "softmax or a sigmoid the loss applies again is double-softmax or double-sigmoid; a clamp to a wide "
            "range (+-50), a temperature or a scaled soft cap (30 * tanh(z / 30)) is not named."),
        why=(
            "Logits must be free to go negative and far apart. A ReLU on them clips every negative logit to 0 and "
            "passes no gradient there: a class whose logit is clipped for every sample is never learned again. A "
            "sigmoid or a tanh keeps them within 1 or 2 of each other: the softmax of 5 scores in (0, 1) gives "
            "the right class at most 40%, so the loss stalls near 0.9 however well the model ranks the classes."),
        hypotheses=(
            Hypothesis(
                cause="the classifier head ends in an activation (nn.Sequential(..., nn.Linear, nn.ReLU()), "
                      "torch.sigmoid(logits))",
                check="print the loss input's minimum and maximum: exactly 0, or everything within (0, 1) or "
                      "(-1, 1), means an op bounded it",
            ),
            Hypothesis(
                cause="the logits were clamped to a narrow range for stability",
                check="widen the clamp to +-50, or drop it, and compare the loss after a few hundred steps",
                kind="subtle",
            ),
        ),
        next_step="Remove the activation after the last Linear layer: feed raw logits to the loss.",
        bad="head = nn.Sequential(nn.Linear(64, 10), nn.ReLU())\nloss = F.cross_entropy(head(h), y)",
        good="head = nn.Linear(64, 10)\nloss = F.cross_entropy(head(h), y)",
        explains=("dead-relu", "loss-plateau", "cannot-overfit-batch", "init-loss-mismatch"),
    ),
    Code(
        code="loss-sign-flipped",
        title="The optimizer maximizes the loss",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects training that climbs its loss: a torch loss function that enters the scalar given to backward() "
            "with a minus sign; a loss that started positive and falls without bound (a term with no floor is "
            "maximized); updates written by hand that move the weights up the gradient; a reward or return the "
            "script prints that gets worse as training goes on (`run`: every late print below the first, beyond "
            "the prints' noise)."),
        why=(
            "Optimizers descend the scalar they are given. A loss function negated in it (a stray minus, "
            "`1 - loss`, a weight of -1) is climbed instead: the model is trained to be as wrong as it can, "
            "while the scalar it reports falls and looks like progress. In reinforcement learning the loss is "
            "built from the reward (−log π(a|s) × return, −Q(s, π(s))): without its minus, the policy is trained "
            "to lose, and only the printed reward shows it."),
        hypotheses=(
            Hypothesis(
                cause="a minus sign meant for a likelihood or a reward was put in front of a loss function",
                check="print the loss function's own value every few steps: it rises while the scalar falls",
            ),
            Hypothesis(
                cause="an adversarial term (a domain classifier, a discriminator) maximized on purpose without a "
                      "gradient-reversal layer",
                check="confirm the term is meant to be maximized, and only by the parameters that should",
                kind="null",
            ),
        ),
        next_step="Remove the minus sign: pass the loss function's value itself to backward().",
        bad="loss = -F.cross_entropy(model(x), y)\nloss.backward()",
        good="loss = F.cross_entropy(model(x), y)\nloss.backward()",
        explains=("loss-divergence", "nonfinite-forward", "nonfinite-backward", "exploding-gradients", "lr-too-high"),
    ),
    Code(
        code="class-weights-inverted",
        title="Class weights favour the frequent classes",
        severity="warning",
        stage=MECHANISM,
        what=(
            "Detects a classification loss given per-class weights (`weight=`) that rise with how often each class "
            "occurs in the targets it receives: among classes 3x or more apart in frequency, a rank correlation "
            "of 0.8 or more between weight and frequency."),
        why=(
            "Class weights exist to counter an imbalance: a rare class's errors count more so the model does not "
            "learn to ignore it. Weights computed as the class frequency instead of its inverse (counts where "
            "1/counts was meant, a normalisation that divides the wrong way) do the opposite: the frequent class "
            "dominates the loss even more and the rare classes are never predicted."),
        hypotheses=(
            Hypothesis("the weights were computed as the frequencies, not their inverse",
                       "print the weights next to the class counts: the rarest class should weigh the most"),
            Hypothesis(
                cause="the weights are indexed in another class order than the labels (sorted names vs label ids)",
                check="print the class each weight belongs to, as the labels number them",
                kind="subtle",
            ),
            Hypothesis(
                cause="the frequent class is weighted up on purpose (a cost of its errors known to be higher)",
                check="if so, the weights are a decision; the finding is only what they do",
                kind="null",
            ),
        ),
        next_step="Weight each class by the inverse of its frequency (total / (classes x count)), or drop the weights.",
        bad="weights = counts / counts.sum()\nloss = F.cross_entropy(logits, y, weight=weights)",
        good="weights = counts.sum() / (len(counts) * counts)\nloss = F.cross_entropy(logits, y, weight=weights)",
        explains=("class-imbalance", "constant-output"),
    ),
    Code(
        code="gan-target-flipped",
        title="The generator's loss helps the discriminator",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects two models in a game whose losses pull the same way: one model's output (the generator's) "
            "is scored by the other (the discriminator), two optimizers step them on different losses, and the "
            "gradients of both losses with respect to the discriminator's score of generated samples share a sign."),
        why=(
            "In every GAN formulation (BCE with real=1/fake=0, the non-saturating generator, hinge, WGAN, least "
            "squares) the discriminator's loss pushes its score of generated samples toward fake and the "
            "generator's loss pushes it toward real. A generator trained on the fake target (BCE against zeros) "
            "or a WGAN generator loss with the wrong sign pushes the same way as the discriminator: the generator "
            "learns to make its samples easy to reject, and its losses look calm while nothing is learned."),
        hypotheses=(
            Hypothesis(
                cause="the generator's adversarial loss uses the fake label as its target (zeros, or the smoothed "
                      "0.1) instead of the real one",
                check="print the target tensor passed with D(G(z)) in the generator's step: it must be the real label",
            ),
            Hypothesis(
                cause="a WGAN or hinge generator loss written with the wrong sign (mean(D(G(z))) instead of "
                      "-mean(D(G(z))))",
                check="print d(loss_G)/d(D(G(z))) for one batch: it must be negative where D's loss on fakes gives positive",
            ),
            Hypothesis(
                cause="the discriminator's loss uses swapped labels (real scored as fake) while the generator's is "
                      "right",
                check="print the targets of both D terms: real samples with the real label, generated ones with the fake",
                kind="subtle",
            ),
            Hypothesis(
                cause="the two models are meant to cooperate (the second model is a critic the first is trained to "
                      "agree with, not an adversary)",
                check="confirm the second model's loss is meant to push the score the same way",
                kind="null",
            ),
        ),
        next_step="Train the generator toward the real label: BCE(D(G(z)), ones), or -mean(D(G(z))) for WGAN and hinge.",
        bad="loss_g = F.binary_cross_entropy_with_logits(D(fake), torch.zeros_like(score))  # the fake target",
        good="loss_g = F.binary_cross_entropy_with_logits(D(fake), torch.ones_like(score))  # the real target",
        explains=("loss-plateau", "loss-divergence", "underfitting"),
    ),
    Code(
        code="game-shared-optimizer",
        title="A player's loss steps its opponent in the game",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects a game (one model's output, directly or through a new tensor, scored by another that also "
            "scores other inputs: two losses pulling that score opposite ways on all the samples, or a term that "
            "pushes it one way at nearly every step, as an actor's -Q pushes its critic's score of the actor's "
            "actions) where one optimizer holds both players' parameters (or both players' optimizers step on one "
            "backward) and its step applies one loss's gradient to both: after a backward whose loss (read term "
            "by term when it is a sum) reached the discriminator's score of generated samples still attached to "
            "the generator, the step finds non-zero gradients from that loss, through that score, in the "
            "parameters of both players. Also when an optimizer that holds the discriminator and none of the "
            "generator steps on the generator's loss: a push on the score of generated samples the way the "
            "discriminator's own loss pulls its score of real data, at nearly every such step."),
        why=(
            "Each player must be updated by its own objective only. A generator's loss back-propagates through "
            "the discriminator: stepped by the same optimizer, the discriminator learns to score fakes as real. "
            "A discriminator's loss on fakes left attached reaches the generator: stepped by the same optimizer, "
            "the generator learns to make its samples easier to reject. Each player is also trained against "
            "itself, so the game has no winner and the losses stall or drift while the samples stay poor. An "
            "actor's -Q applied to its critic raises Q on the actor's actions instead of estimating returns."),
        hypotheses=(
            Hypothesis(
                cause="one optimizer built over both models' parameters (Adam(list(G.parameters()) + "
                      "list(D.parameters()))) and stepped after each player's loss",
                check="print which models' parameters each optimizer's param_groups hold: a GAN needs one "
                      "optimizer per player",
            ),
            Hypothesis(
                cause="with an optimizer shared on purpose, the fakes are not detached for the discriminator's "
                      "loss, or the discriminator is not frozen before the generator's step",
                check="after the discriminator's backward print the generator's gradient norm, after the "
                      "generator's backward the discriminator's: both must be zero (or None) at the step",
                kind="subtle",
            ),
            Hypothesis(
                cause="the players' optimizers swapped (built or unpacked in the other order): the generator's "
                      "loss steps the discriminator",
                check="print which model's parameters each optimizer's param_groups hold, next to its name",
                kind="subtle",
            ),
            Hypothesis(
                cause="the two losses summed into one backward() (loss_d + loss_g) before the step, by one "
                      "optimizer or by both players' optimizers",
                check="search the loop for one backward() on a sum of both players' losses",
                kind="subtle",
            ),
            Hypothesis(
                cause="the second model is not an adversary: it is meant to be trained jointly with the first "
                      "(a gradient-reversal layer, a shared objective)",
                check="confirm that both models are meant to descend the same loss",
                kind="null",
            ),
        ),
        next_step="Give each player its own optimizer, detach the fakes for the discriminator's loss, and call "
                  "each backward() before its own player's step.",
        bad=("opt = torch.optim.Adam([*G.parameters(), *D.parameters()])\n"
             "loss_g = bce(D(G(z)), ones)\nopt.zero_grad(); loss_g.backward(); opt.step()  # D moves too"),
        good=("opt_g, opt_d = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())\n"
              "loss_g = bce(D(G(z)), ones)\nopt_g.zero_grad(); loss_g.backward(); opt_g.step()"),
        explains=("loss-plateau", "loss-divergence", "underfitting"),
    ),
    Code(
        code="double-softmax",
        title="Cross-entropy receives probabilities, not logits",
        severity="error",
        stage=MECHANISM,
        what="Detects softmax (or log-softmax) outputs fed to a loss that applies log-softmax itself.",
        why=(
            "nn.CrossEntropyLoss applies log_softmax internally. Fed probabilities, it squashes them a second "
            "time: the loss starts near ln C and its gradients shrink by roughly the class count, so training "
            "stalls or converges to a poor model. (Log-softmax fed to it is redundant but harmless.)"),
        hypotheses=(
            Hypothesis(
                cause="a Softmax layer or F.softmax before nn.CrossEntropyLoss",
                check="compare the loss on raw logits and on softmax(logits) for one batch",
            ),
            Hypothesis(
                cause="probabilities were meant for nll_loss after a log",
                check="replace the loss by F.nll_loss(torch.log(p)) and see if the loss moves",
                kind="subtle",
            ),
        ),
        next_step="Remove the softmax from the model's training path; apply it only when you need probabilities.",
        bad="model = nn.Sequential(nn.Linear(20, 10), nn.Softmax(dim=1))\nloss = F.cross_entropy(model(x), y)",
        good=(
            "model = nn.Sequential(nn.Linear(20, 10))\n"
            "loss = F.cross_entropy(model(x), y)  # softmax only at inference"),
        explains=("init-loss-mismatch", "loss-plateau", "slow-convergence", "cannot-overfit-batch"),
    ),
    Code(
        code="double-sigmoid",
        title="A with-logits loss receives sigmoid outputs",
        severity="error",
        stage=MECHANISM,
        what="Detects sigmoid outputs fed to binary_cross_entropy_with_logits / BCEWithLogitsLoss.",
        why=(
            "The loss applies a sigmoid itself. A second sigmoid maps every prediction into (0.5, 0.73), so the "
            "model can never express confidence in class 0 and gradients are tiny."),
        hypotheses=(
            Hypothesis(
                cause="a Sigmoid at the end of the model plus BCEWithLogitsLoss",
                check="print the loss input's range: values in [0, 1] are probabilities",
            ),
        ),
        next_step="Drop the final sigmoid, or switch to nn.BCELoss (less stable) if you must keep it.",
        bad="out = torch.sigmoid(model(x))\nloss = F.binary_cross_entropy_with_logits(out, y)",
        good="loss = F.binary_cross_entropy_with_logits(model(x), y)",
        explains=("init-loss-mismatch", "loss-plateau", "cannot-overfit-batch"),
    ),
    Code(
        code="nll-without-log-softmax",
        title="nll_loss receives values that are not log-probabilities",
        severity="error",
        stage=MECHANISM,
        what="Detects nll_loss / NLLLoss applied to raw logits or probabilities.",
        why=(
            "NLLLoss only picks -input[target]; it normalizes nothing. On raw logits the loss is unbounded "
            "below, so the model can drive it to -inf by inflating one logit without learning anything."),
        hypotheses=(
            Hypothesis(
                cause="the model ends in a Linear layer and the loss is NLLLoss",
                check="check that exp(input).sum(dim=1) is 1 for a batch",
            ),
            Hypothesis(
                cause="a softmax was used where log_softmax was meant",
                check="check that the input is <= 0 everywhere",
                kind="subtle",
            ),
        ),
        next_step="Add log_softmax before nll_loss, or use cross_entropy on the logits.",
        bad="loss = F.nll_loss(model(x), y)",
        good="loss = F.cross_entropy(model(x), y)  # or F.nll_loss(F.log_softmax(model(x), 1), y)",
        explains=(
            "nonfinite-forward", "nonfinite-backward", "exploding-gradients", "loss-divergence",
            "init-loss-mismatch",
        ),
    ),
    Code(
        code="broadcast-loss",
        title="Prediction and target broadcast to a larger shape in the loss",
        severity="error",
        stage=MECHANISM,
        what="Detects element-wise losses whose input and target shapes broadcast, e.g. (B, 1) against (B,).",
        why=(
            "Broadcasting (B, 1) against (B,) silently builds a (B, B) matrix: every prediction is compared with "
            "every target, so the best the model can do is predict the batch mean."),
        hypotheses=(
            Hypothesis(
                cause="the model outputs (B, 1) and the targets are (B,)",
                check="print pred.shape and target.shape at the loss",
            ),
        ),
        next_step="Make the shapes equal: pred.squeeze(-1) or target.unsqueeze(-1).",
        bad="loss = F.mse_loss(model(x), y)   # (B, 1) vs (B,)",
        good="loss = F.mse_loss(model(x).squeeze(-1), y)",
        explains=("loss-plateau", "cannot-overfit-batch", "constant-output"),
    ),
    Code(
        code="labels-all-ignored",
        title="Every target is ignored: the loss has nothing to learn from",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects batches whose targets all equal ignore_index, or a loss that is identically 0 with zero "
            "gradients."),
        why=(
            "With every label masked, a mean-reduced cross-entropy is 0/0 = NaN and a sum-reduced one is 0: no "
            "gradient ever reaches the model. Usually a label-shifting or padding bug in preprocessing."),
        hypotheses=(
            Hypothesis(
                cause="labels were masked to ignore_index (-100) by a collator or tokenizer bug",
                check="count (labels != -100) for one batch",
            ),
            Hypothesis("the loss mask is empty", "print mask.sum() for one batch", kind="subtle"),
        ),
        next_step="Inspect one batch's labels before the loss; fix the masking so real tokens keep their ids.",
        bad="labels = torch.full_like(input_ids, -100)  # every position masked",
        good="labels = input_ids.clone(); labels[attention_mask == 0] = -100",
        explains=("nonfinite-forward", "nonfinite-backward", "loss-plateau", "init-loss-mismatch"),
    ),
    Code(
        code="padding-in-loss",
        title="The loss counts the padding of the sequences",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects a classification loss (cross-entropy, NLL) whose targets at the padded positions of the model's "
            "integer inputs count: the padding is read from the data (a run of one value at the end or start of many "
            "sequences, whose targets are one value), not assumed to be 0, and is not ignore_index or weighted 0. Per-position "
            "losses (reduction='none') averaged by hand with no mask count it too."),
        why=(
            "Predicting padding after padding is trivial, so it pulls the printed loss down while the real tokens are "
            "learned slowly: when most positions are padding, most of the loss and of its gradient is spent on them, "
            "and the model learns to predict the padding value after real tokens too."),
        hypotheses=(
            Hypothesis(
                cause="the criterion was built without ignore_index for the padding id (nn.CrossEntropyLoss())",
                check="compute the loss on the non-padding positions alone (target != PAD): it is much higher",
            ),
            Hypothesis(
                cause="the collator pads the labels with the padding id instead of -100",
                check="print one batch's labels: the padded tail should be -100",
                kind="subtle",
            ),
            Hypothesis(
                cause="the repeated tail is real data (a class that does end every sequence), not padding",
                check="check the data: do the sequences really end in that token that many times?",
                kind="null",
            ),
        ),
        next_step=(
            "Pass ignore_index=PAD to the loss (or set padded labels to -100), or mask by hand: "
            "(loss * mask).sum() / mask.sum() with reduction='none'."),
        bad="criterion = nn.CrossEntropyLoss()\nloss = criterion(logits.reshape(-1, V), tgt.reshape(-1))  # tgt padded with PAD",
        good="criterion = nn.CrossEntropyLoss(ignore_index=PAD)\nloss = criterion(logits.reshape(-1, V), tgt.reshape(-1))",
        explains=("class-imbalance", "slow-convergence", "loss-plateau", "underfitting", "constant-output"),
    ),
    Code(
        code="init-loss-mismatch",
        title="The first loss is far from its chance level",
        severity="warning",
        stage=INIT_LOSS,
        what="Compares the first recorded loss with the loss of an uninformed model (ln C, ln 2, var(target)).",
        why=(
            "A freshly initialised model should be about as good as guessing. A much larger first loss means "
            "overconfident initial outputs (bad init, unscaled inputs or outputs), which wastes the first part "
            "of training and can destabilise it."),
        hypotheses=(
            Hypothesis(
                cause="the output layer's initial weights are too large",
                check="print the logits' std at init (expect about 1 or less)",
            ),
            Hypothesis("inputs are not normalized", "print the input's mean and std per feature", kind="subtle"),
            Hypothesis(
                cause="the loss is not the one you think (wrong reduction, weights)",
                check="compute the loss by hand for one batch",
                kind="subtle",
            ),
        ),
        next_step=(
            "Scale down the last layer's init (or zero it) and normalize the inputs; re-check the first loss."),
        bad="head = nn.Linear(512, 10); nn.init.normal_(head.weight, std=10.0)",
        good="head = nn.Linear(512, 10)  # default init; or nn.init.zeros_(head.weight)",
    ),
    Code(
        code="label-leakage",
        title="The first loss is far below chance: the answer may be in the input",
        severity="warning",
        stage=INIT_LOSS,
        what=(
            "Flags an initial loss far below the chance level of an untrained model; and (the target-copy probe) an "
            "input equal to the targets whose replacement on a copy moves the outputs — for floating targets, "
            "unless a layer narrower than the targets carries all of that input (an autoencoder's code)."),
        why=(
            "An untrained model cannot beat chance unless the target is visible in the input (a leaked column, a "
            "shifted sequence that exposes the next token) or the model is already trained. A model handed its own "
            "target learns to copy it: the loss falls and nothing else is learned."),
        hypotheses=(
            Hypothesis(
                cause="a feature column is a copy or function of the target",
                check="drop features one at a time and watch the first loss",
            ),
            Hypothesis(
                cause="a denoiser or diffusion model scored against its own noisy input instead of the noise or "
                      "the clean sample",
                check="print which tensors the loss compares, next to what the model received",
                kind="subtle",
            ),
            Hypothesis(
                cause="the model was loaded from a checkpoint trained on this task",
                check="confirm whether weights were loaded",
                kind="null",
            ),
        ),
        next_step=(
            "Find which input carries the target: shuffle the targets and check the first loss returns to "
            "chance."),
        bad="X = df.drop(columns=['id'])        # still contains 'label_encoded'",
        good="X = df.drop(columns=['id', 'label', 'label_encoded'])",
    ),
    Code(
        code="loss-imbalance",
        title="One loss term's gradient is orders of magnitude below another's: it cannot steer the shared weights",
        severity="warning",
        stage=STUCK,
        what=(
            "Splits the loss into its additive terms (from the recorded loss computation, or terms logged to the "
            "Monitor), measures the gradient each sends to the parameters several terms reach, and flags a term "
            "whose gradient stays under 1e-3 of the largest on every sample while its value does not fall — under "
            "1e-2 for a task (a term that reads the targets) beside another task, no weight in the loss setting "
            "them apart, when that task falls by half and this one does not; or a task whose gradient stays "
            "under 1/10 of a penalty's (a term that reads none: sparsity, smoothness, a KL) while the penalty "
            "falls by half and the task does not; or a task whose gradient stays under 1/10 of the largest "
            "term's while that term falls by half and the task's value doubles (traded away). Terms the last "
            "model call's tape holds as constants (another call of the model, a derivative taken with "
            "autograd.grad, as in a PINN) are measured on the live graph of the first and latest steps taped; "
            "such a term may drown another but is not judged drowned itself (it may be a penalty on the weights). "
            "An error when the term's values were measured (its task is not being learned), a warning when "
            "only its gradients were."),
        why=(
            "The update of shared weights is the sum of the terms' gradients. A term three orders of magnitude "
            "smaller is lost in the noise of the large one: it is in the loss but has no say, so whatever it "
            "stands for (a boundary condition, a classification head, a constraint) is not learned. The usual "
            "cause is units, not intent: a regression on raw targets in the thousands beside a cross-entropy "
            "of about 1, a loss summed over pixels beside one averaged over a batch."),
        hypotheses=(
            Hypothesis(
                cause="the terms have different units or scales (sum versus mean, unnormalised targets)",
                check="rescale the small term (or normalise the large term's targets) so the gradient norms are "
                      "within 10x: the small term's value starts to fall",
            ),
            Hypothesis(
                cause="the weight in front of the term is far smaller than intended",
                check="print each term's weight and gradient norm on the shared parameters; raise the weight 100x "
                      "for a few hundred steps and watch the term",
                kind="subtle",
            ),
            Hypothesis(
                cause="the term is deliberately a faint regulariser and nothing depends on it",
                check="drop the term: if no metric you care about changes, the imbalance is harmless",
                kind="null",
            ),
        ),
        next_step=(
            "Put the terms on comparable scales (normalise targets, use means, or weight each term by the "
            "inverse of its typical gradient norm), then confirm the small term's value falls."),
        bad="loss = F.mse_loss(pred, price_in_dollars) + F.cross_entropy(logits, label)   # ~1e6 vs ~1",
        good="loss = F.mse_loss(pred, (price - mu) / sigma) + F.cross_entropy(logits, label)",
        explains=("loss-plateau", "loss-metric-mismatch", "metric-competing-losses"),
    ),
    Code(
        code="loss-conflict",
        title="Two loss terms pull the shared weights in opposite directions from the start",
        severity="warning",
        stage=STUCK,
        what=(
            "Measures, for each pair of additive loss terms, how much of their gradients on the shared "
            "parameters cancel (the norm of the sum against the sum of the norms), at the initial weights and "
            "on later samples; flags a pair that cancels by half or more on every sample."),
        why=(
            "When two terms' gradients cancel, the update is the small remainder of a tug of war: the shared "
            "weights barely move and neither objective is served. At a trained compromise any weighted sum's "
            "terms oppose (that is what a compromise is), so only opposition from the first step on, before "
            "there is a compromise to defend, is judged: the terms then ask for opposite things by "
            "construction (a sign error, the same target with two signs, a reversed auxiliary objective). "
            "Only terms that read a target are paired when some do: a penalty (a KL, a VQ-VAE's commitment, a "
            "sparsity or weight penalty) opposes the task by design."),
        hypotheses=(
            Hypothesis(
                cause="a sign error: a term meant to be minimised is subtracted, or maximised twice",
                check="flip the sign of one term for a few steps: the cancellation disappears and both fall",
            ),
            Hypothesis(
                cause="the two objectives are incompatible for one set of shared weights",
                check="drop one term for a few hundred steps on a copy: the other falls much faster",
                kind="subtle",
            ),
            Hypothesis(
                cause="the opposition is designed (an adversarial or gradient-reversal term)",
                check="confirm from the method's paper that the term should oppose the task loss",
                kind="null",
            ),
        ),
        next_step="Check the signs and targets of the two terms named, then drop one on a copy to see the other learn.",
        bad="loss = F.mse_loss(out, y) - 0.5 * F.mse_loss(out, y_smoothed)   # subtracts what it should add",
        good="loss = F.mse_loss(out, y) + 0.5 * F.mse_loss(out, y_smoothed)",
        explains=("loss-plateau", "cannot-overfit-batch", "metric-competing-losses"),
    ),
    Code(
        code="squeeze-without-dim",
        title="squeeze() without a dim feeds the loss",
        severity="warning",
        stage=MECHANISM,
        what="Flags `.squeeze()` with no dim argument passed straight to a loss.",
        why=(
            "squeeze() removes every size-1 dimension, the batch dimension too when a batch has one sample (the "
            "last batch of an epoch): the loss then broadcasts or fails only on that batch."),
        hypotheses=(
            Hypothesis("the (B, 1) output was meant to become (B,)", "run the loss on a batch of one sample"),
        ),
        next_step="Name the dimension: squeeze(-1) or squeeze(1).",
        bad="loss = criterion(model(x).squeeze(), y)",
        good="loss = criterion(model(x).squeeze(-1), y)",
        explains=("broadcast-loss",),
    ),
    Code(
        code="metric-loss-disconnected",
        title="Improving the loss does not move the metric",
        severity="warning",
        stage=MISMATCH,
        what=(
            "why_stuck: moves the model's outputs along the loss's own descent direction until the loss falls by "
            "a quarter (or finds the loss flat there) and measures the metric at each step."),
        why=(
            "If the outputs the loss wants leave the metric where it is, no optimizer can move the metric by "
            "minimising this loss: the loss is saturated at the operating point or measures something else "
            "than the metric (a regression loss beside a ranking metric, a margin already met)."),
        hypotheses=(
            Hypothesis(
                cause="the loss is saturated: its gradient on the outputs is about zero where the metric still fails",
                check="print the loss's gradient on the outputs of the failing samples",
            ),
            Hypothesis(
                cause="the loss and the metric measure different things",
                check="compute the metric on outputs that minimise the loss exactly (the targets themselves)",
                kind="subtle",
            ),
        ),
        next_step="Change the loss so that lowering it requires the metric to improve (or choose a metric the loss serves).",
        bad="loss = F.mse_loss(torch.sigmoid(logit), y)   # flat where sigmoid saturates on wrong samples",
        good="loss = F.binary_cross_entropy_with_logits(logit, y)",
    ),
    Code(
        code="metric-structural-ceiling",
        title="The parameters cannot move the metric: a structural ceiling",
        severity="warning",
        stage=MISMATCH,
        what=(
            "why_stuck: the loss's direction on the outputs moves the metric, but neither steps of the "
            "parameters along the loss gradient nor a short training of a copy change it."),
        why=(
            "The metric is capped by what the model can express, not by the optimizer: a bounded output, a "
            "frozen or missing path, a parameterisation that cannot reach the better outputs. Tuning the "
            "learning rate or the loss cannot help; only the model's structure can."),
        hypotheses=(
            Hypothesis(
                cause="the output is bounded or the path to it is frozen",
                check="trace loss -> metric -> output -> parameters and print d(output)/d(parameter) on the last layer",
            ),
            Hypothesis(
                cause="the model is too small for the task",
                check="train a copy with a wider last layer for the same steps: the metric moves",
                kind="subtle",
            ),
        ),
        next_step="Give the model a way to express the better outputs (remove the bound, unfreeze, widen), then rerun why_stuck.",
        bad="out = 0.5 * torch.sigmoid(self.head(h))   # probabilities capped at 0.5",
        good="out = self.head(h)   # logits; the loss applies the sigmoid",
    ),
    Code(
        code="metric-competing-losses",
        title="Another loss term holds the metric back",
        severity="warning",
        stage=MISMATCH,
        what=(
            "why_stuck: trains copies for a few steps with all terms and with each term disabled in turn, and "
            "flags a term whose removal moves the metric clearly further than training with it."),
        why=(
            "A term that fights the one the metric depends on can hold the metric still while the total loss "
            "falls: the optimizer serves the sum, not the metric."),
        hypotheses=(
            Hypothesis(
                cause="the named term opposes the term the metric depends on",
                check="drop the term for a few hundred steps on a copy: the metric moves",
            ),
            Hypothesis(
                cause="the term's weight is too large for this stage of training",
                check="halve the term's weight and watch the metric",
                kind="subtle",
            ),
        ),
        next_step="Reweight or schedule the named term (or drop it) and confirm the metric moves.",
        bad="loss = task_loss + 10.0 * smoothness_penalty",
        good="loss = task_loss + 0.1 * smoothness_penalty",
    ),
    Code(
        code="metric-moves",
        title="The metric moves when the model is trained on this batch",
        severity="info",
        stage=MISMATCH,
        what="why_stuck: a short training of a copy on the batch moves the metric.",
        why=(
            "The loss, the parameters and the optimizer can move the metric at this operating point: a metric "
            "that looked stuck was a coincidence of the batches or seeds seen, or needs more steps (optimizer "
            "inertia: a small learning rate, heavy momentum)."),
        hypotheses=(
            Hypothesis(
                cause="the optimizer is too slow (learning rate, momentum) for the steps given",
                check="raise the learning rate 3x for a short run: the metric moves sooner",
            ),
            Hypothesis(
                cause="the metric is noisy and looked stuck by chance",
                check="compare the metric over several seeds and batches",
                kind="null",
            ),
        ),
        next_step="Look at the metric over more steps and seeds before changing the model or the loss.",
    ),
    Code(
        code="loss-dead-zone",
        title="The loss has a region of zero gradient above its minimum",
        severity="warning",
        stage=MECHANISM,
        what="Grids the loss over its inputs (`traindoctor surface`) or evaluates it at representative inputs "
             "(checkup's loss-table probe on the model's real outputs) and flags inputs where the loss lies above "
             "its lowest value while its gradient is zero.",
        why=(
            "The optimizer moves only along the gradient. An input where the loss is still high but flat (a "
            "clamp, a ReLU or hinge applied where the loss can go lower, a saturated sigmoid, a product with a "
            "factor at zero) is a trap: a model that starts or lands there receives no signal and stays."),
        hypotheses=(
            Hypothesis(
                cause="a clamp, ReLU or max() inside the loss cuts the gradient on one side",
                check="evaluate the loss and its gradient at an input inside the flagged region; replace the clamp "
                      "by a smooth one (softplus, a leaky slope) and see the gradient become non-zero",
            ),
            Hypothesis(
                cause="a factor of a product is zero there and switches off the other factor's gradient",
                check="write the product as a sum of logs and compare the gradients at the flagged input",
                kind="subtle",
            ),
            Hypothesis(
                cause="the region is never reached by the model's outputs",
                check="compare the flagged inputs with the range of the model's real outputs (checkup's "
                      "loss-table probe evaluates the loss there)",
                kind="null",
            ),
        ),
        next_step="Give the loss a slope in the flagged region (softplus instead of relu/clamp, log-space instead "
                  "of a product), or make sure initial outputs start outside it.",
        bad="loss = (pred.clamp(0, 1) - target) ** 2  # pred < 0: flat at (0 - target)^2",
        good="loss = (torch.sigmoid(pred) - target) ** 2  # a slope everywhere",
        explains=("loss-plateau", "cannot-overfit-batch", "vanishing-gradients", "slow-convergence"),
    ),
    Code(
        code="loss-nonfinite-region",
        title="The loss is NaN or infinite for some of its inputs",
        severity="warning",
        stage=MECHANISM,
        what="Flags inputs of the loss (grid cells or representative inputs such as saturated probabilities) "
             "where its value or its gradient is NaN or infinite.",
        why=(
            "log(0), 0/0, sqrt(0)'s gradient and exp overflow are finite-looking formulas that fail at reachable "
            "inputs: a sigmoid reaches exactly 0 or 1 in float32 (logits beyond about -104 or 17), and one "
            "non-finite loss or gradient poisons every weight it reaches."),
        hypotheses=(
            Hypothesis(
                cause="log of a probability that reaches 0 (hand-written cross-entropy on sigmoid or softmax outputs)",
                check="evaluate the loss at the flagged input; use the logits with BCEWithLogits/cross_entropy, "
                      "or clamp the probability by an eps, and see it become finite",
            ),
            Hypothesis(
                cause="a division, sqrt or pow whose argument reaches 0, or an exp that overflows",
                check="print the loss's intermediate values at the flagged input",
                kind="subtle",
            ),
            Hypothesis(
                cause="the flagged inputs lie outside what the model can output",
                check="narrow the range (`ranges=`) to the outputs' real domain and re-run",
                kind="null",
            ),
        ),
        next_step="Compute the loss from logits (log_softmax, logsigmoid, BCEWithLogits), or add an eps / clamp "
                  "before log, division and sqrt.",
        bad="loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()  # p = sigmoid(z) reaches 0 and 1",
        good="loss = F.binary_cross_entropy_with_logits(z, y)",
        explains=("nonfinite-forward", "nonfinite-backward"),
    ),
    Code(
        code="loss-axes-imbalanced",
        title="One input of the loss gets 1000x the gradient of another",
        severity="warning",
        stage=MECHANISM,
        what="Compares the median gradient magnitude along each gridded input of the loss (`traindoctor surface`).",
        why=(
            "Shared weights move by the sum of the gradients reaching them: an input whose gradient is three "
            "orders of magnitude smaller has no say in training. Usually its term is scaled or unit-mismatched "
            "(pixels against probabilities, a sum against a mean)."),
        hypotheses=(
            Hypothesis(
                cause="terms in different units or reductions (sum over pixels against a mean, degrees against radians)",
                check="normalise both terms to per-element means (or divide by their typical value) and compare the "
                      "medians again",
            ),
            Hypothesis(
                cause="a weight on one term chosen by habit (1e-4 on a KL, 1000 on a regression term)",
                check="set the weights so the terms' gradients are within 10x at the operating point",
                kind="subtle",
            ),
            Hypothesis(
                cause="the axes' ranges differ in units on purpose and the optimizer normalises per parameter",
                check="compare the gradients the terms send to the shared parameters (checkup/run's loss balance)",
                kind="null",
            ),
        ),
        next_step="Rescale the terms, move the small one to log space, or normalise by each term's typical scale.",
        bad="loss = 1000 * (box - box_t) ** 2 + F.softplus(-logit * y)",
        good="loss = (box - box_t) ** 2 / box_scale ** 2 + F.softplus(-logit * y)",
        explains=("loss-imbalance", "slow-convergence"),
    ),
    Code(
        code="loss-saddle",
        title="The loss has a saddle point inside its inputs' range",
        severity="warning",
        stage=MECHANISM,
        what="Finds interior points of a two-input loss surface where the gradient vanishes and the curvature is "
             "positive along one direction and negative along another.",
        why=(
            "A product of inputs (A*B, a dot product of two heads, a factorisation) has a saddle at the origin: "
            "gradients to each factor are proportional to the other, so inputs that start near zero get almost "
            "no signal and training stalls before it slides off."),
        hypotheses=(
            Hypothesis(
                cause="a product-form loss (A*B) whose factors start near zero",
                check="evaluate the gradient at (0, 0) and at small inputs; rewrite as sign * (log|A| + log|B|) "
                      "and see independent gradients",
            ),
            Hypothesis(
                cause="a difference of squares or a symmetric objective with two equivalent minima",
                check="look at the figure: the saddle sits between the minima; initialise away from the ridge",
                kind="subtle",
            ),
            Hypothesis(
                cause="the saddle is far from where the model's outputs start",
                check="compare the saddle's coordinates with the initial outputs",
                kind="null",
            ),
        ),
        next_step="Decompose the product additively in log space, or initialise the factors away from zero.",
        bad="loss = -(a * b)  # a, b start near 0: d/da = -b ~ 0",
        good="loss = -(torch.log(a.abs() + eps) + torch.log(b.abs() + eps))",
        explains=("loss-plateau", "slow-convergence"),
    ),
    Code(
        code="terminal-bootstrap",
        title="The TD target bootstraps from terminal transitions",
        severity="error",
        stage=MECHANISM,
        what=(
            "On sampled steps, measures which samples of a loss target take a part from a target network's output "
            "under no_grad (a copy of a trained model that no optimizer trains and whose outputs served losses "
            "before; forward-mode AD through the target's ops: the part is γ·(1 - done)·Q(s') sample by sample, "
            "the rest is the reward) and reads the 0/1 flags of the step's batch from the script's variables. "
            "Flags the target when it bootstraps on every sample although a flag that is not where the rewards are "
            "was set, or only on the samples of a flag set on a minority. A flag that stops the bootstrap (done "
            "masking, n-step or SARSA targets alike) keeps it quiet; so does a task with no flag set (continuing), "
            "and a second flag never set makes it say it could not tell (terminated vs truncated)."),
        why=(
            "A terminal state has no future: its value target is the reward alone. Bootstrapping there adds "
            "γ·Q(s') of a state that does not follow (with an auto-resetting environment, the next episode's "
            "start), so values chain across episodes and inflate past any achievable return; an inverted mask "
            "bootstraps only there and cuts the chain everywhere else."),
        hypotheses=(
            Hypothesis("the done flag is sampled from the replay buffer but never used in the target",
                       "print the target of a terminal transition: it should equal its reward"),
            Hypothesis("the mask multiplies the wrong term ((1 - done) * r + γ·Q(s')) or is inverted (done instead "
                       "of 1 - done)",
                       "write the target as r + γ * (1 - done) * Q(s') and compare one terminal sample"),
            Hypothesis("the flag means a time limit (truncated), where bootstrapping is right",
                       "store terminated apart from truncated and mask with terminated only", kind="null"),
        ),
        next_step="Mask the bootstrap with the terminal flag: y = r + γ * (1 - terminated) * max_a Q_target(s', a).",
        bad="y = r + GAMMA * target_net(s2).max(1).values",
        good="y = r + GAMMA * (1 - done) * target_net(s2).max(1).values",
        # targets wrong on terminal transitions (or, inverted, reward-only elsewhere): an experiment reads them
        # as targets that do not follow the inputs
        explains=("loss-divergence", "loss-spikes", "loss-plateau", "labels-decoupled"),
    ),
    Code(
        code="log-prob-of-untaken-action",
        title="The policy gradient trains the log-probability of actions the policy did not take",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects a policy-gradient loss (REINFORCE, actor-critic, PPO) that evaluates log π(a|s) — a "
            "distribution's log_prob, or a gather on a log-softmax over the last dim — for actions other than "
            "those the policy drew in those states: the argmax, the distribution's own mean, a second draw from the "
            "distribution whose first draw was executed (`run`: the states and actions of every torch.distributions "
            "draw and torch.multinomial call, against those of every log-probability that enters a loss with "
            "gradients)."),
        why=(
            "−log π(a|s)·A estimates the policy gradient only when `a` is the action drawn from π in `s` and "
            "executed there, so that A is that action's advantage. Paired with another action — a fresh "
            "`dist.sample()` at the update, the argmax, the action list shifted by one step or left in another "
            "order than the states — the loss pushes up actions whose rewards it never saw: the gradient is noise "
            "or worse, and the policy does not improve however long it trains."),
        hypotheses=(
            Hypothesis(
                cause="the update samples again (dist.log_prob(dist.sample())), or takes the argmax or the mean "
                      "(dist.log_prob(dist.mean): its gradient with respect to the mean is zero) instead of the "
                      "stored actions",
                check="print the evaluated actions next to the stored ones for the first rows",
            ),
            Hypothesis(
                cause="states and actions stored or batched out of step: shifted by one (the next state stored), "
                      "shuffled apart in minibatches, or kept from an earlier rollout",
                check="for a few rows, compare the state stored with each action to the state that action was drawn in",
            ),
            Hypothesis(
                cause="the executed action is not the policy's draw (epsilon-greedy, a scripted or expert action): "
                      "its log-probability under π needs an importance weight",
                check="count how often the executed action replaces the policy's draw",
                kind="subtle",
            ),
        ),
        next_step="Store the action the policy drew with the state it was drawn in, and evaluate log_prob of that "
                  "action; shuffle states, actions and advantages with one index.",
        bad="dist = Categorical(logits=policy(states))\nloss = -(dist.log_prob(dist.sample()) * returns).mean()",
        good="dist = Categorical(logits=policy(states))\nloss = -(dist.log_prob(actions) * returns).mean()  # actions taken",
        explains=("loss-plateau", "cannot-overfit-batch", "underfitting", "loss-sign-flipped", "loss-divergence"),
    ),
    Code(
        code="returns-misordered",
        title="The policy gradient weights each action with rewards that are not its own",
        severity="error",
        stage=MECHANISM,
        what=(
            "Detects a policy-gradient loss whose weights — the return, reward-to-go, advantage or GAE multiplying "
            "log π(a_t|s_t) — are built from the rewards in the wrong order (`run`: on sampled backward passes, "
            "the factor multiplying an evaluated log-probability in the loss, against the reward sequences among "
            "the script's variables — tensors, lists of numbers or of tensors, each episode's field in a list of "
            "records, a Dataset's fields, time-first or episode-first, the latest episode of a flat buffer; a "
            "minibatch drawn from a longer buffer of weights is read as that buffer — fitted, affine and with the "
            "discount searched, by the reward-to-go, the sum of past rewards, the reward-to-go reversed in time "
            "and shifted by one step, and, against log-probabilities stacked in the order the steps were played, "
            "by the reward-to-go's exact values at other steps). Flags the loss "
            "when, on most passes, a misordered construction explains the weights and the reward-to-go clearly "
            "does not. Also flags weights made of per-step rewards each of which the script already held when "
            "its own step's action was drawn and no longer at the next draw: a reward stored beside an action it "
            "did not follow; and a value regression whose target is a reward plus a discount times its own "
            "prediction on every non-terminal sample (a TD target bootstrapped from the starting state). "
            "Standardised returns, a baseline, bootstrapped values, GAE, n-step returns, one total "
            "return for every step of an episode keep it quiet."),
        why=(
            "An action can only be credited with what happened after it: the weight of log π(a_t|s_t) must be "
            "built from the rewards at t and later (plus a bootstrapped value). Accumulated forward in time, the "
            "weight of the early choice that decides the outcome holds nothing of it, and late actions are "
            "credited with rewards earned before them; reversed or shifted, each step gets another step's return. "
            "The gradient then pushes up actions that did not earn their reward: the policy learns slowly, not at "
            "all, or the wrong thing."),
        hypotheses=(
            Hypothesis(
                cause="the discounted sum runs forward in time (for r in rewards: G = r + γ·G), a forward cumsum, "
                      "or a GAE loop over range(T) instead of reversed(range(T))",
                check="print rewards and weights of one episode: the first step's weight should include the last "
                      "reward (discounted), the last step's only the last reward",
            ),
            Hypothesis(
                cause="the returns were computed on the reversed rewards and never reversed back (or reversed "
                      "inside the loop), or written to index t-1",
                check="compare the weight of the last step with the last reward: they should match up to the "
                      "normalisation",
            ),
            Hypothesis(
                cause="the weights are right and the rewards fitted are another sequence of the same length that "
                      "happens to accumulate into them",
                check="recompute the reward-to-go from the rewards the environment returned and compare",
                kind="null",
            ),
            Hypothesis(
                cause="the TD target bootstraps from the value of the state the transition starts in (a value "
                      "cached when the action was taken) instead of the next state's: r + γ·V(s) for r + γ·V(s')",
                check="compute the bootstrap from the next observation the environment returned, under no_grad",
            ),
            Hypothesis(
                cause="the rollout stores beside each action the reward received before it (the previous step's, "
                      "kept in a variable such as last_reward) instead of the one its own environment step returned",
                check="store the reward right after the env.step that took the action; the first step's reward "
                      "must come from the first step",
            ),
        ),
        next_step="Accumulate backwards: G = 0; for r in reversed(rewards): G = r + γ·G; returns.insert(0, G) "
                  "(or flip-cumsum-flip), and pair each step's return with that step's log-probability.",
        bad="G = 0\nfor r in rewards:\n    G = r + gamma * G\n    returns.append(G)",
        good="G = 0\nfor r in reversed(rewards):\n    G = r + gamma * G\n    returns.insert(0, G)",
        explains=("loss-plateau", "underfitting", "loss-sign-flipped"),
    ),
)
