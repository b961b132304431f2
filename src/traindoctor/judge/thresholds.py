"""Every number a rule decides with, defined once, with where it comes from.

A threshold is a module-level constant; the comment above it says its source (a paper, a tool's
documented default, or a measurement on healthy runs). Rules import them from here;
`docs/thresholds.md` is generated from this file (`python -m traindoctor.judge.thresholds`).
A healthy run must stay silent: where a threshold trades a miss against a false alarm, it sides
with silence and says so.
"""

from __future__ import annotations

# ── step series (run after the fact, the Monitor online, curves on logged columns) ──────────────

# Exploding gradients: the total gradient norm (before clipping, where it was clipped) above 1000x
# the median of the first 5 measured steps. Three orders of magnitude is far outside the 10-100x
# drift of healthy runs' early gradient norms (they usually fall); a relative rule needs no scale.
EXPLODE_BASELINE_STEPS = 5
EXPLODE_FACTOR = 1e3
# Within those first steps, a norm 1000x above the largest of at least 3 before it is judged against them
# instead of joining the baseline (healthy early norms drift by 10-100x, and mostly fall).
EXPLODE_EARLY_JUDGED = 3

# Vanishing gradients: a total gradient norm below 1e-7 for 20 steps in a row — the default threshold
# of SageMaker Debugger's vanishing_gradient rule. An exact 0 is not counted: no gradient at all is
# named by other rules (parameters never reached, every label ignored).
VANISHING_NORM = 1e-7
VANISHING_STEPS = 20
# Nor is a step whose loss fell a millionfold from where it started (to 0 in float32, often): the model
# fits its batches, and the gradient goes to zero with the loss it is the slope of.
FITTED_LOSS = 1e-6

# Divergence: the loss per summed term, over the median of the last 5 steps, above 10x where it
# started (the first loss, or the median of the first 5 if lower, so a blow-up at step 1 counts).
# The window median keeps a single spike (a rule of its own) from reading as divergence.
# Relative to a start, so judged only on losses never seen below zero (a policy-gradient surrogate
# with normalized returns swings around 0: REINFORCE in pytorch/examples goes from 0.007 to 0.14).
DIVERGENCE_BASELINE_STEPS = 5
# A loss summed over a count of terms that more than half the steps share is a fixed sum (a batch size,
# its ragged last batch once an epoch); one whose count changes on most steps sums episodes of
# varying length, whose single-step jumps are the data's (judge/steps/spikes.py).
FIXED_COUNT_SHARE = 0.5
DIVERGENCE_FACTOR = 10.0
DIVERGENCE_WINDOW = 5

# Spikes: a loss more than 10 robust deviations (median absolute deviation) above the median of the
# previous 50 steps, above 3x that median, and undoing at least a quarter of the progress made since
# the first steps. Minibatch noise reaches 2-3x; near convergence a classifier's minibatch loss
# reaches 7x a median of 0.008 on healthy runs without undoing anything (tests/monitor). The same
# three numbers judge spikes in whole logged curves (judge/series.py).
SPIKE_HISTORY = 50
SPIKE_MIN_HISTORY = 20  # losses seen before one can be told apart from the recent level
SPIKE_MADS = 10
SPIKE_FACTOR = 3.0
SPIKE_UNDO = 0.25
# ... and sudden: at least half of its excess over that median arrived in this one step (over the step
# before). A bad batch jumps from the level it interrupts; a loss that climbed over several steps, as a
# VQ-VAE's does while its codes reassign, exceeds a lagging median without any single step jumping.
SPIKE_SUDDEN = 0.5

# Plateau, online: over the last 2 x 500 steps the mean of the second half is not 1% below the mean
# of the first. Late in a healthy run (learning rate decayed) progress per 500 steps is small but
# not zero; 1% keeps those silent.
PLATEAU_WINDOW = 500
PLATEAU_WINDOW_GAIN = 0.01

# Update size, as ||update|| / ||weights|| per optimizer step. Healthy training sits near 1e-3
# (CS231n "Neural Networks Part 3"; Karpathy, "A Recipe for Training Neural Networks"). Large: 1e-1,
# two orders above; small: 1e-5, two orders below; judged on the median of the last 10 measurements.
# Large updates alone are no finding (the bundled healthy CNN with SGD sustains 10^-0.9): they are
# the cause of a divergence that follows them, or of a loss they keep throwing above twice where it
# started (3 times or more after the first steps: overshooting steps).
LARGE_UPDATE = 1e-1
SMALL_UPDATE = 1e-5
RATIO_WINDOW = 10
# Too small updates under a loss averaged over N terms (every pixel or token) are put down to the mean
# (a rate tuned for the sum) when N times them reaches within a decade of healthy: the factor alone
# then accounts for the shortfall (a batch mean of 32 under a rate 1000x too small stays unexplained).
USABLE_UPDATE = 1e-4
# A divergence is blamed on large updates among the last 1000 measurements before it (10,000 steps of
# the Monitor's default sampling; all of a default `run`): older ones did not cause it.
RATIO_HISTORY = 1000
OVERSHOOT = 2.0
OVERSHOOTS = 3
# Optimizers that divide by a running second-moment estimate (Adam family, RMSprop, Adagrad) move
# every weight by about lr on their first steps, whatever the gradient: with bias correction Adam's
# first update is exactly lr * sign(g) (Kingma & Ba 2015, sec. 2-3). Their early update ratios only
# measure lr/|w|, so on those steps only an update as large as the weights themselves counts.
SECOND_MOMENT_STATE = ("exp_avg_sq", "square_avg", "exp_inf", "sum")
SECOND_MOMENT_WARMUP = 10
SIGN_LIKE_LARGE_UPDATE = 1.0
# A non-finite value born in a function that grows without bound (exp, pow, cosh) is the function's, not
# the learning rate's, when the steps before it were not large (below LARGE_UPDATE, the line past which
# updates cause a divergence that follows) for as long as the gradient stayed within 10x of its first, and
# the gradient then grew past that: the steps grew with the function's own slope (d exp(z)/dz = exp(z)) once
# the output entered its steep region. Steps already large before that growth are the rate's, unless each
# of them lowered the loss below where it started and none rivalled the weights (ratio below 1): the rate
# then fit the loss at the initial weights, where the function was still moderate, and only the function's
# growth made the later steps too long (an exp link whose first steps lowered a Poisson loss). A first step
# that raised the loss was too long for the loss as training started: the rate's.
STEEP_GROWTH = 10.0
RATE_ALONE_UPDATE = 1.0
# Learning rate too low: small updates AND a loss that moved less than 5% between the mean of its
# first 10 and its last 10 values, over at least 20 losses. Small updates alone are no finding (a
# converged model, a large model's tiny per-weight steps); with a loss that does not move they are.
# A schedule still raising the rate (warm-up: the latest rate above the one at the start of the ratio
# window) is not judged.
SLOW_LOSS_GAIN = 0.05
LOSS_ENDS = 10
SLOW_MIN_LOSSES = 20

# Gradient clipping that sets the step size: the norm before clipping over 10x the norm after, on
# 90% of 20 measured steps in a row. Large models clip often early in training (norms of 1-5 with
# max_norm 1, as in GPT-2-style runs) and policy-gradient methods clip by design: an order of
# magnitude, nearly always, is what only a clip far below the gradients' scale produces.
CLIP_FACTOR = 10.0
CLIP_SHARE = 0.9
CLIP_STEPS = 20

# How a loop is written (zero_grad placement, train/eval modes): a mistake counts when it happened on
# at least 3 steps and on at least half of them — a habit of the loop, not one odd step (the last
# short batch, an evaluation pass).
MIN_STEPS = 3
MOST_STEPS = 0.5

# Batch norm in training mode normalizes each channel with its batch's mean and variance. Over one sample
# those are the sample's own: whatever sets it apart as a whole (a channel's overall level) is removed, and
# eval mode later applies running statistics the training never normalized with. From two samples on the
# statistics mix samples: noisy at 2-4 (Wu and He, Group Normalization, 2018: ImageNet error rises steeply
# as the batch shrinks to 2), yet training still learns from them. So a layer counts below 2 samples, on
# more than MOST_STEPS of at least MIN_STEPS sampled training calls: the typical batch, not an epoch's last
# short one.
BATCH_NORM_MIN_SAMPLES = 2

# Batch norm in eval mode normalizes by its running statistics: when they describe the batch, a channel's
# output has scale 1 (measure/norm_batches.py output_scale); never fitted on unstandardized data, it has the
# data's own scale. Training in eval mode is harmful when a layer's typical channel is off by more than this
# factor either way (frozen batch norm, fitted on the data, stays within it).
BATCH_NORM_STATS_FACTOR = 4.0

# A loss that started at +b falls without bound once it reaches -10b (judge/steps/unbounded.py): torch's
# losses are bounded below near zero, and a Gaussian likelihood with a learned variance would need a spread
# about e^-10 of its starting one to get there (beyond a healthy fit).
UNBOUNDED_FACTOR = 10.0

# Units are copies of each other when every weight row equals the first to within a millionth of the
# weights' largest magnitude: identical units receive bit-identical updates, so float32 rounding (~1e-7
# relative) is the only difference that can appear between them.
SYMMETRIC_TOLERANCE = 1e-6

# Units that started identical stay copies when at most half of what moved them (training's change, or the
# batch's gradient) differs between them. A following layer with random weights gives each unit its own
# gradient: 0.6 to 1 of the change differs (unrelated changes: 1 - 1/units). Random biases or dropout on
# identical units leave 0 to 0.3 (MLPs, CNNs and sequence models, SGD and Adam, 30 to 200 steps), and the
# loss falls far less than from a random start (a 3-class MLP after 60 Adam steps: 0.77 with random biases,
# 0.83 exactly identical, 0.56 from the default initialisation). Adam can grow the biases' differences further
# (a 64-wide MLP after 200 steps: 0.52 and 0.85, loss 0.81 against 0.51 from the default initialisation), so
# the same bound also applies to the gradient at the start with the biases made equal: exactly 0 when nothing
# downstream tells the units apart, 0.6 to 1 after a layer with random weights.
SYMMETRIC_SPREAD = 0.5

# A weight layer is an affine function of the inputs when its output at the midpoint of two samples' inputs
# is the midpoint of its outputs to within a ten-thousandth of how far the two outputs differ: float32
# rounding through a few layers leaves ~1e-6, while one ReLU, tanh or normalisation between the layers
# leaves a deviation of the order of the outputs' spread (1e-2 to 1e-1 on any batch with varied inputs) —
# unless it is idle on the batch (a clipped WGAN critic's LeakyReLU, all on: 3.9e-7), which is why the
# finding also needs the autograd graph between the weights to hold only linear ops.
AFFINE_TOLERANCE = 1e-4

# Updates written by hand climb the loss when the weights' change points up the gradient the last
# backward() left: cosine(change, -gradient) is 1 for SGD, stays clearly positive for momentum and Adam-like
# rules (their steps keep the gradient's signs), and is -1 for `p += lr * grad`. Half-way to -1 is our bar,
# at MIN_STEPS measured updates and MOST_STEPS of them below zero.
ASCENT_COSINE = -0.5

# Learning-rate schedule: the rate below 1% of its peak within the first half epoch.
LR_COLLAPSE = 1e-2

# Overfitting, online: a logged validation loss that rose 3 evaluations in a row while the training
# loss fell over the same evaluations.
OVERFIT_RISES = 3

# Activations of a trained model. SageMaker Debugger's DeadRelu flags a layer at 50% inactive units
# (threshold_layer), which fits a model at initialization (diagnosis/). Trained models leave many
# units unused on easy tasks (69% in one layer of the bundled healthy CNN at 100% accuracy), so a
# trained layer counts as dead at 90%. Saturation: half the outputs of a sigmoid/tanh within 1% of
# the ends of their range. Either on 3 sampled steps in a row.
DEAD_RELU_TRAINED = 0.9
SATURATED = 0.5
ACTIVATION_STREAK = 3

# ── whole logged curves (curves) ────────────────────────────────────────────────────────────────
# Measured on the validation set of docs/curves.md (bench/curves_validation.py): healthy noisy curves
# stay silent at these values.

# Fewer points than this: no shape to judge, only non-finite values.
MIN_POINTS = 20
# Divergence: the end level above 1.5x the start level and 3x the best level.
SERIES_DIVERGE_START = 1.5
SERIES_DIVERGE_BEST = 3.0
# Plateau: less than 5% total decrease from the start level to the end level.
PLATEAU_GAIN = 0.05
# Oscillation: 4 or more swings of the level larger than 25% of it in the second half of the run, and
# larger than 4 robust deviations of the noise around the level (so noise is never a swing).
SWING = 0.25
SWINGS = 4
SWING_NOISE = 4.0
# Overfitting: the validation loss 10% above its minimum 3 evaluations after it, on a rising trend
# (Spearman correlation with the evaluation index of at least 0.6: not noise around a level).
OVERFIT_RISE = 0.10
OVERFIT_TREND = 0.6
# Underfitting: flat over the last 40% of the run at more than half the start level; "flat": the
# medians of the 4th and 5th fifths differ by under 3% of the start.
FLOOR = 0.5
SETTLED = 0.03
# Slow convergence: half of the total decrease only after 40% of the run, and the last quarter still
# falling by more than 10% of its level.
SLOW_HALF_AT = 0.4
STILL_FALLING = 0.1
# Loss/metric mismatch: the metric moved less than 2% of its scale while the loss fell by 30% or more.
METRIC_FLAT = 0.02
METRIC_LOSS_FALL = 0.3

# ── what the script prints (run: judge/printed.py) ─────────────────────────────────────────────
# A label printed fewer than 5 times is not a series: too few prints to tell a trend from the noise.
PRINTED_MIN_POINTS = 5
# A printed measure of success (accuracy, reward, return) got worse: every print of the last third below
# the first print, by more than 4 robust deviations of the last third (the noise of one print) and by a
# fifth of its scale (|first| or |last| for a reward; the range, 1 or 100, for a bounded score), so an
# unlucky stretch of noise or a small dip is never read as training going the wrong way.
PRINTED_WORSE_NOISE = 4.0
PRINTED_WORSE = 0.2
# A bounded score stuck while the loss learned (the rule of curves, METRIC_FLAT / METRIC_LOSS_FALL) is only
# judged while the score sits in the lower half of its range: a score that is high and flat has converged.
PRINTED_STUCK_LEVEL = 0.5
# A bounded score whose last third never rose above 1% of its range is never right: worse than any guess of
# any classifier (chance is 1/K of K classes), so it cannot measure the model a falling loss trains.
PRINTED_FLOOR = 0.01

# ── loss functions and their inputs ─────────────────────────────────────────────────────────────

# First loss against chance (ln C for C classes, ln 2 for binary targets): above max(2x chance,
# chance + 2) is an initialization mismatch; below 1/5 of chance an untrained model knows the labels.
# For mean squared error, chance is the target's variance: above 10x the larger of it and the loss of
# predicting zero, below 1% of it.
INIT_LOSS_HIGH = 2.0
INIT_LOSS_MARGIN = 2.0
INIT_LOSS_LOW = 0.2
MSE_INIT_HIGH = 10.0
MSE_INIT_LOW = 0.01
# A regression whose prediction an op bounds (a sigmoid, a tanh, a ReLU) with a tenth of its targets
# out of that op's reach: the loss has a floor the model cannot go below. A few targets a little
# outside (noise around a non-negative quantity under a ReLU) stay below the share.
UNREACHABLE_TARGETS = 0.1

# Padding counted by a classification loss (measure/losses.py:padding). A run at the edge of a
# sequence is padding when it is 2 positions long on average (a single closing token, "." or <eos>,
# is content) and 90% of the targets at its positions hold one value (padding is labelled by one
# filler; real tokens vary). Counted padding is reported once it holds a tenth of the counted
# targets (as UNREACHABLE_TARGETS: a tenth of the loss spent on what cannot be learned), and is an
# error once it holds half of them: most of the loss and its gradient is then padding after padding.
PADDING_MIN_RUN = 2.0
PADDING_AGREEMENT = 0.9
PADDING_SHARE = 0.1
PADDING_DOMINANT = 0.5

# Class targets equal to an integer input of the same size at 90% of positions are a clue that the
# answer is in the input (a next-token target not shifted); the target-copy probe then decides by
# experiment. Next-token text repeats the previous token far less often than that.
COPIED_TARGETS = 0.9

# nll_loss expects log-probabilities (<= 0): a largest input above 1e-4 is something else.
LOG_PROB_MAX = 1e-4
# Logits bounded by the op that made them (a sigmoid, a tanh, a clamp) give the loss a floor: with C classes
# and logits in [low, high], cross-entropy cannot go below ln(1 + (C - 1) e^-(high - low)). A floor of a tenth
# of chance (ln C) or more is a defect: a sigmoid's (0, 1) over 5 classes holds it at 0.9 of 1.6, a tanh's
# over 2 classes at 0.13 of 0.69; a clamp to +-50 for stability leaves it at 1e-43.
LOGIT_FLOOR = 0.1
# Inputs and regression targets: a column whose |mean| or standard deviation exceeds 100 is
# unnormalized (standardized features sit near 0 +/- 1; pixels in [0, 255] exceed it).
UNNORMALIZED_SCALE = 100.0
# What the model's first weighted layer (Linear, convolution, RNN, attention) receives: values whose root
# mean square exceeds 50 are far from unit scale even when no single column passes UNNORMALIZED_SCALE. With PyTorch's
# default init (Var(w) = 1/(3 fan_in)) a layer's pre-activations have about rms/1.7 as standard deviation,
# and its weights' gradients scale with the input: standardized data sits near 1, pixels in [0, 1] below
# it, while 0-255 pixels sit at 70-130 (MNIST 85, a dark 16x16 glyph set 73, CIFAR-10 about 130). 50 is
# above the rms of N(0, 1) embeddings scaled by sqrt(d_model) for d_model up to 2048 (45), a common
# transformer habit that is not a data-pipeline bug.
FIRST_LAYER_RMS = 50.0

# A policy-gradient loss trains the log-probability of actions the policy did not take (measure/actions.py):
# of the rows it evaluates at states where the policy drew actions, at least a tenth, and at least 5, carry an
# action it never drew there. A healthy loop evaluates exactly the actions drawn, so any share is a bug; the
# floor only keeps one stray evaluation (an epsilon-greedy step now and then) from being called the loss.
UNTAKEN_ACTION_SHARE = 0.1
UNTAKEN_ACTION_ROWS = 5

# A policy-gradient loss's weights built from the wrong rewards (measure/returns.py): on a backward pass, a
# misordered construction (past sum, reversed, shifted or rearranged returns) explains the weights with
# R² >= 0.7 and the reward-to-go at least 0.3 below it; flagged when at least 3 passes, and half of those
# observed, say so. A healthy loop's reward-to-go fits 0.85-1.0 (GAE under value noise the lowest) and beats
# every misordered construction; a misordered one fits its construction 0.75-1.0 with the reward-to-go at
# 0.0-0.65. Half the passes, because a pass where the rewards are nearly constant (a policy that has learned)
# or the last episode short tells nothing either way.
RETURNS_FIT = 0.7
RETURNS_MARGIN = 0.3
RETURNS_OBSERVATIONS = 3
RETURNS_SHARE = 0.5
# A reward stored beside an action it did not follow: of the steps whose value differs from both neighbours (at
# least 6), at least 90% held by the script's variables at their own action's draw and at most 10% at the next
# draw, the weights fitting those values with R² >= RETURNS_FIT. A healthy rollout's reward appears only after
# its draw (still held at the next, as the last reward received); a baseline existing at the draw enters the
# weights negatively.
RETURNS_EARLY = 0.9
RETURNS_TOLD = 6

# ── probes (diagnosis/) ─────────────────────────────────────────────────────────────────────────
# The probes run experiments on copies of the model (diagnosis/probes/); the rules over what they
# measure are in judge/probes.py. Their input scale is UNNORMALIZED_SCALE, and a trained model's dead
# ReLU layer DEAD_RELU_TRAINED (what `run` probes after training), both above.

# A dead ReLU layer at initialization: half its units never active on the batch — SageMaker
# Debugger's DeadRelu default (threshold_layer=50%). checkup probes a model before training.
DEAD_RELU_INIT = 0.5
# A healthy unit is inactive on all of n samples with a chance of about 2^-n: on fewer samples than
# this, "never active" says nothing (one sample leaves half of any layer "dead").
DEAD_MIN_SAMPLES = 8

# Class imbalance in the batch: one class holds 90% of at least 20 labels (fewer labels leave a
# majority to chance; a batch of a balanced 10-class set sits near 10%).
CLASS_MAJORITY = 0.9
CLASS_MIN_LABELS = 20
# Class weights that amplify an imbalance: among classes 3x or more apart in frequency (the imbalance that
# makes weighting worth it), the weights' rank correlation with the frequencies is 0.8 or more — they rise
# with frequency almost class by class (counter-weights correlate negatively; uniform ones not at all).
WEIGHT_IMBALANCE = 3.0
WEIGHT_FOLLOWS = 0.8

# Constant output: the spread across samples at most 1e-6 of the output's scale — float32 rounding
# (eps 1.2e-7) a few times over, so any input-dependent output is above it.
CONSTANT_OUTPUT_SPREAD = 1e-6

# Batch mixing and causal leaks: perturbing one sample (or the positions after t) changes another
# sample's (or an earlier position's) output by more than 1e-5 of its scale. Eval-mode outputs of
# independent samples agree exactly, or within float32 reassociation (well below 1e-5).
OUTPUT_CHANGE = 1e-5

# A bottleneck is named when more than half of the targets' variance lies outside the directions its width
# can carry: even a perfect model through it keeps a loss above half of predicting the mean — the FLOOR at
# which a settled curve counts as underfitting.
BOTTLENECK_SHARE = 0.5

# Next-step tasks (the causal probe): the targets are an input shifted 1..8 steps along a time axis,
# matched value for value within 1e-5 of the input's scale (floats also as per-channel z-scores: inputs
# standardised apart from raw targets). Targets cut from the same tensor as the inputs agree exactly;
# 1e-5 leaves room for float32 rounding of targets computed apart (normalized again, cast). Eight steps covers next-token and short-horizon forecasting; a horizon beyond it is
# not looked for (silence). A target with at most 16 channels is matched channel by channel (the
# next value of channel 0 of a multivariate series); wider ones must equal the input's channels.
CAUSAL_MAX_SHIFT = 8
CAUSAL_MATCH_TOLERANCE = 1e-5
CAUSAL_MATCH_CHANNELS = 16

# Attention masks (the padding-mask probe): a key is hidden where the mask, or the score entering the
# softmax, is at or below -1000. Masks write -inf, the dtype's minimum, -1e9, or BERT's -10000 added
# to the scores; scores of unit-scale queries and keys divided by sqrt(d) are O(1)-O(10), so a
# working model's scores stay far above it, and softmax gives a key 1000 below the largest 0 weight.
MASK_HIDDEN_SCORE = -1e3
# Padding: the value filling the sequences' tails (or heads), with 90% of its occurrences there. Pad
# ids occur nowhere else (all of them); a token of unpadded text ends a row as often as it stands
# anywhere, so few of its occurrences are at the ends. A mask is inverted when it hides 90% of the
# content positions and leaves 90% of the padding visible: a mask built from the pad ids or a
# tokenizer's attention_mask agrees at every position; the margin is for a pad id that is also the
# end-of-sequence token (GPT-2's), whose real occurrence at the end of a text reads as padding.
PAD_TAIL_SHARE = 0.9
MASK_AGREEMENT = 0.9

# Gradient flow, one backward at initialization: the first weight matrix's |grad|/|weight| below
# 1e-4 (vanishing) or above 1e4 (exploding) times the last one's. No published default: four orders
# of magnitude, so only a gradient that all but stops (or blows up) across the depth counts; the
# bundled healthy examples stay silent (tests/diagnosis).
VANISHING_FIRST_LAST = 1e-4
EXPLODING_FIRST_LAST = 1e4
# run reads the same ratio from the recorded steps (judge/depth.py), and asks for its consequence: over the run
# the first layer changed (relative to its start) less than 1% as much as the last. An adaptive optimizer
# (Adam) rescales a small gradient and moves every layer alike: two orders apart, the first layer did not learn.
VANISHING_MOVED = 1e-2

# Update size over 5 steps on a copy, the median per-layer ||update||/||weight|| (healthy near 1e-3;
# the sources are those of LARGE_UPDATE, which also marks too large here). With no loss to say
# whether training stalls, too small is 1e-6, an order below SMALL_UPDATE.
PROBE_SMALL_UPDATE = 1e-6

# Ablation needs a memorized batch: the fitting goes on to 5% of the first loss (past OVERFIT_TARGET)
# before the inputs are destroyed.
DEEP_FIT = 0.05

# Overfitting one batch (Karpathy, "A Recipe for Training Neural Networks": overfit one batch): a
# working model takes the loss to 20% of its first value (or below 0.05) within the step budget —
# our bar, which the bundled healthy examples clear at their configured learning rates.
# "Stalled": the best loss improved by less than 1% over a window of the last fifth of the steps.
OVERFIT_TARGET = 0.2
OVERFIT_FLOOR = 0.05
OVERFIT_STALL = 0.01

# Input ablation, on the copy that overfit the batch: destroying the inputs (zeroed or random) undoes
# less than 10% of what fitting achieved — the model learned the batch through something else
# (the biases, a leaked label).
INPUT_IGNORED = 0.1

# LR range test (Smith 2017, "Cyclical Learning Rates"): the loss has diverged once its smoothed
# value exceeds 4x its minimum — fastai's lr_find stops at the same factor.
LR_RANGE_DIVERGED = 4.0

# Custom autograd Functions: torch.autograd.gradcheck's own default tolerances, in float64.
GRADCHECK_EPS = 1e-6
GRADCHECK_ATOL = 1e-5
GRADCHECK_RTOL = 1e-3

# ── Differential diagnosis (diagnosis/experiments.py, judge/experiments.py) ──────────────────────────
# Each experiment arm takes 50 optimizer steps on one recorded batch from the state training left: the
# budget in which the overfit-one-batch check of Karpathy's recipe shows a working setup fitting a batch
# (our OVERFIT bar is reached well within it by the bundled healthy examples at 10x their LR), while six
# arms stay within the 60 s diagnosis budget on CPU for models of a few million parameters.
EXPERIMENT_STEPS = 50

# A loss "does not learn" when the median of its last tenth of recorded steps is within 10% of the median
# of its first tenth (relative to the larger magnitude), or above it: the same 10% that LR_TOO_LOW's
# "loss that does not move" uses for the plateau of a too-small learning rate.
NOT_LEARNING = 0.1

# ... or when it ends within 15% of the loss of the best model that ignores its inputs: a classifier that
# learned nothing but the class frequencies sits at their entropy, a little below once it memorises samples.
NEAR_CHANCE = 0.85
# ... that loss, for a classifier, is the entropy of the class frequencies in the targets fed, once at least
# 200 labels were profiled (about 0.03 nats of sampling error for a few classes); with fewer, ln C — the
# frequencies' entropy is at most ln C.
CHANCE_LABELS = 200

# Arms are compared by how far each took the batch's loss down, as a share of where it started: an arm
# "fits" at a 50% fall (half of the OVERFIT bar: 50 steps instead of 300), is "stuck" under 10%
# (NOT_LEARNING), and one factor explains the stall when changing it alone unsticks it — a fall of at
# least 25% (a quarter of the way in 50 steps: clearly moving, 2.5x the stuck bar) and at least 2x the
# baseline's — while the baseline is stuck: the one-factor-at-a-time rule of the seeds' differential.
ARM_FITS = 0.5
ARM_STUCK = 0.1
ARM_MOVES = 0.25
ARM_BETTER = 2.0

# A loss that is a mean and then divided again by a constant (`F.cross_entropy(out, y) / batch_size`) gives
# plain SGD steps that many times shorter; a divisor above 10 gets an arm of its own, the rate multiplied by
# it (the division undone): up to 10x, the lr-x10 arm already tests the factor (and gradient accumulation's
# `loss / accumulation_steps` is usually no larger).
LOSS_DIVIDED = 10.0

# A schedule collapsed the learning rate when the current rate is at least 10x below the rate it started
# from (an order of magnitude: the LR_COLLAPSE of run's schedule rule, measured here against initial_lr).
SCHEDULE_DECAY = 10.0
# ... and it lowered the rate of a loss that had already converged (annealing, the standard end of a run, not a
# collapse) when, of the loss's fall over the recorded steps at the high rate (within SCHEDULE_DECAY of its
# peak), the second half of those steps added under 10%: its curve had flattened before the rate fell.
SCHEDULE_CONVERGED = 0.1

# Labels decoupled from inputs (Zhang et al. 2017, "Understanding deep learning requires rethinking
# generalization": random labels are memorised, but nothing carries over), judged by a permutation test on
# each recorded batch left out of a fit on the others: how far the fit lowered the loss of the real pairing
# of inputs and targets against 19 shuffled pairings. Under the null (targets independent of inputs) the
# real pairing gains the most of the 20 with probability 1/20, so a model that learned from its inputs is
# expected to gain more than all 19 and a decoupled one rarely.
SHUFFLES = 19
# ... and the test has power only when the pairing matters to the loss: some shuffled pairing moves it by
# at least 1% (a model pinned near a constant output gives every pairing the same loss) — or the control
# pairing below shows the fit resolves pairings at this scale.
PAIRING_MATTERS = 0.01
# ... and decoupled is claimed only when the real pairing is a typical one: on average over the batches
# left out, the fit lowered at least a fifth of the 19 shuffled pairings further. A relation learned only
# weakly (the real pairing among the best few on each batch, not better than all) is not called decoupled.
TYPICAL_PAIRING = 0.2
# Recorded batches besides the latest: each of the four is left out in turn, with its own 19 pairings. Under
# the null the share of shuffles gaining more than the real pairing is uniform on each batch: with one batch
# a decoupled program falls below a fifth one time in five; the mean of four about one time in 41 (shares in nineteenths).
HELD_OUT_BATCHES = 3
# ... and only when the test has shown its power: the control pairing (the targets dealt by a teacher's score
# of the inputs, a relation the model can learn), fitted with the same budget, is outgained on average by at
# most one in twenty of its shuffled pairings. Under the null the mean of 4 uniform shares is that low about
# one time in 15,000 (k^k t^k / k!), so a control that reaches it learned its relation and carried it over.
CONTROL_PAIRING = 0.05
# ... where the control's real pairing outgains a shuffle, or ends below it, only by a margin of at least 0.1%
# of the loss: 10^4 times float32's rounding, and 40x below the least the controls of learnable programs
# show (4% and more). A fit that moves nothing (a learning rate far too low) leaves every pairing's loss
# where it started, and differences of 1e-5 between them are no power to see a relation.
CONTROL_MARGIN = 1e-3
# A target with a row of a few values per sample (a keypoint's x and y, a box's four numbers) is tested one
# component at a time as well, up to 16 components: past that a row is a vector (an embedding, a spectrum)
# whose entries are not separate targets, and 19 pairings per entry cost more forward passes than the fit.
COMPONENTS_MAX = 16
# Does the gradient describe the loss (diagnosis/gradient_path.py)? Moving a parameter tensor by 0.1% of
# its norm (GRADIENT_PROBE_STEP) moves a loss that depends on it by far more than float32's rounding
# (relative 1e-7): a change above 1e-6 of the loss, and above 10x the change between two evaluations of
# the same parameters, is a dependence (LOSS_DEPENDS). Crossing the steps of a rounding, or a small bias's
# effect below float32's resolution, needs a coarser move: 10% of the norm (GRADIENT_PROBE_COARSE), tried
# only on parameters that feed a call where gradient was seen to stop — at once for one term of the loss
# (diagnosis/term_path.py), whose candidates all feed one — and for the values a module's later calls read past a
# cut of its earlier state (diagnosis/state_path.py), where the question is only whether the loss reads them. An argmax over logits that noise dominates
# (a Gumbel sample) can hold every choice through that: then a move as large as the weights themselves
# (GRADIENT_PROBE_FAR), which asks only whether the loss is a function of them at all.
GRADIENT_PROBE_STEP = 1e-3
GRADIENT_PROBE_COARSE = 0.1
GRADIENT_PROBE_FAR = 1.0
LOSS_DEPENDS = 1e-6
# One step along the negative gradient, of 0.01%-1% of the parameters' norm, lowers a smooth loss by
# about step x |gradient| (first order). A gradient that is the loss's own achieves at least half of that
# at one of the three lengths (DESCENT_AGREES); one that does not lower the loss at any is not its own.
DESCENT_AGREES = 0.5
# The inputs ablated on the model as training left it: with each sample's inputs moved to another sample (5
# pairings), outputs that move by at most 1e-5 of their largest magnitude — float32 rounding over a
# forward's sums, not a model that learned little from its inputs (a prior-predicting model still moves
# them by 1e-3 or more) — belong to a model whose inputs never reach its output. The outputs, not the
# loss: with one target for every sample (a GAN's ones) moving the inputs only permutes the per-sample
# losses, and a loss near its floor hides outputs that move.
ABLATIONS = 5
INPUTS_REACH = 1e-5

# ── sweeps (runs x seeds) ────────────────────────────────────────────────────────────────────────

# A value's effect is reliable when the t-statistic of its paired per-seed differences (the value
# against the mean of the other values, on the same seed) reaches 2 in size with at least 4 seeds:
# "|t| > 2 with 4+ seeds is meaningful" (the seeds' sweep analysis, Part 4). Under a null effect
# |t| > 2 still happens with probability 2 P(T_{n-1} > 2) per value — 14% with 4 seeds, 7% with 8
# (bench/sweeps_simulation.py measures it); fewer than 4 seeds is reported as unreplicated.
RELIABLE_T = 2.0
RELIABLE_MIN_SEEDS = 4

# A lucky seed: the best value by mean leads the others without being reliable (|t| < RELIABLE_T), and
# one seed carries the lead — without it less than half is left (LUCKY_CARRY) — while that seed is an
# outlier: its paired difference exceeds the other seeds' mean by more than the t distribution allows at
# a 1% chance shared among the seeds (LUCKY_P; the noise measured on the other seeds, which it did not
# inflate), and the lead is at least half that noise (LUCKY_LEAD: large enough for a reader of the means
# to act on). Needs 3 seeds. On null sweeps of 4 values it fires on under 1% of sweeps at 3 to 12 seeds;
# one run boosted by 10 run-to-run deviations is named on 62% of sweeps with 3 seeds and 97% or more with
# 4 to 8 (bench/sweeps_simulation.py). A 5% chance would name more boosts, and 3% of null sweeps.
LUCKY_LEAD = 0.5
LUCKY_P = 0.01
LUCKY_CARRY = 0.5

# Two parameters are confounded within a group when the values of one predict the other: Cramér's V
# of their runs' contingency table of 0.5 or more ("large" association for one degree of freedom,
# Cohen 1988); a full grid has V = 0, one parameter changed together with another has V = 1.
CONFOUND_V = 0.5

# A numeric parameter whose positive values span 10x or more (learning rates, weight decays) is swept
# on a log scale: its dose-response trend is fitted against log10 of the value.
LOG_SPAN = 10.0

# ── datasets (data) ──────────────────────────────────────────────────────────────────────────────
# Judged on one streaming pass: exact moments and extremes, and a seeded uniform sample of 10,000 rows
# (measure/streaming.py) for quantiles, robust scales, tests and the single-feature predictors.

# Near-constant: a dimension whose standard deviation is under 1e-6 of its magnitude (the largest |value|)
# varies only at float rounding (float32 resolves 1.2e-7 of a value): dividing by that std, as
# standardisation does, amplifies rounding noise to unit scale. A rare but real value (a binary flag set
# on 0.01% of rows has std 0.01) is far above it.
NEAR_CONSTANT = 1e-6

# Outliers by robust z-score (|x - median| / (1.4826 MAD), Iglewicz & Hoaglin's modified z): values at 10
# or more, on at most 0.1% of the rows, that carry at least 10% of the dimension's squared deviations
# (they dominate an MSE, as a joint angle of 50 among values within ±3.14 does). A skewed or heavy-tailed
# real feature has many such values (lognormal(0, 1): 1% of rows past z = 10; Cauchy: 4%), not a handful,
# so it stays silent; 10 is twice the 3.5 Iglewicz & Hoaglin use for single points, for the same reason.
OUTLIER_Z = 10.0
OUTLIER_ROWS = 0.001
OUTLIER_SS_SHARE = 0.1

# Sentinel codes: one value holding at least 0.5% of the rows, while the other values (at least 20
# distinct: a measurement, not a category) lie 5 robust deviations away from it or more, none of them
# within one deviation (a -999 among ages, zero padding among positions of a world frame; not one value of
# a discrete tail, 9 among counts 8, 10, 11). A negative value at such a spike in a quantity
# otherwise never negative (-1 for "unknown" days) is a code whatever its distance. Zero-inflated counts
# (0 next to 1, 2, 3...) and capped values (a price cap at the top of the range) sit within 5 deviations.
SENTINEL_SHARE = 0.005
SENTINEL_Z = 5.0
SENTINEL_REST_DISTINCT = 20

# Targets whose per-dimension standard deviations differ 100x or more: under an unweighted MSE the small
# dimension's errors are 10^4 times lighter and it is not learned (the seeds' example: 200x).
TARGET_SCALE_RATIO = 100.0

# A target is a class label when it is text, or integer-valued with at most 50 distinct values; a class
# with fewer than 10 training samples can be neither learned nor measured (the seeds: "rare classes").
CLASSES_MAX = 50
RARE_CLASS_COUNT = 10

# Exact duplicates: at least 1% of a split's rows repeat another row, or at least 1% of an evaluation
# split's rows appear in training, and 10x more than rows that agree by chance would (the product over
# columns of the chance that two sampled rows agree on the column; purely categorical rows collide by
# chance and are not duplicates).
DUPLICATE_SHARE = 0.01
DUPLICATE_CHANCE = 10.0

# Near duplicates: rows equal once every number is rounded to 14 bits of mantissa (a relative step of
# 6e-5, about 4 significant digits): a copy stored as float32 (relative error 6e-8) or printed with 6
# digits (5e-6) lands in the same step for almost every value, while distinct measurements of a continuous
# quantity rarely do. Judged as exact duplicates are (DUPLICATE_SHARE beyond the exact ones, and
# DUPLICATE_CHANCE times the agreement by chance of the rounded columns); row ids are left out.
NEAR_BITS = 14

# Split overlap by group key (episode, scene, patient): 1% of the evaluation split's groups also in training.
GROUP_OVERLAP_SHARE = 0.01

# Train/eval shift per dimension: a two-sample Kolmogorov-Smirnov test, significant after the Benjamini-
# Hochberg correction over all dimensions at a false discovery rate of 1%, and a large effect: a KS
# statistic D of 0.2 or more (the CDFs differ by 20 points; two normals half a standard deviation apart
# give D = 0.2). With 10,000 samples a random split gives D about 0.02. The test counts independent
# samples: frames of an episode by Kish's design effect n / (1 + (m - 1) ICC) — 10 held-out episodes of
# 100 alike frames are about 10 samples, not 1,000 — and neighbours in a series by n (1 - r) / (1 + r).
SHIFT_FDR = 0.01
SHIFT_EFFECT = 0.2
# Categorical columns: a chi-square test of the split x category counts in the same family of tests, its
# effect the total variation distance (the largest difference in probability of any set of categories,
# the unordered analogue of the KS D) judged against the same SHIFT_EFFECT. Categories expected fewer than
# 5 times are pooled: below that the chi-square approximation fails (Cochran's rule).
SHIFT_MIN_EXPECTED = 5

# A single feature predicts the target too well: held out on half of the sample, a binned predictor of
# one feature (up to 64 quantile bins; each bin's majority class or mean target) removes 99% of the error
# of predicting the majority class or the mean (R^2 >= 0.99). Strong real features (R^2 0.9, 95% accuracy
# on a balanced label) are far below; at least 200 sampled rows are needed.
LEAK_SCORE = 0.99
LEAK_BINS = 64
LEAK_MIN_ROWS = 200
# In a time series a lagged copy of a slowly moving target predicts it well without leaking (a random walk's
# value now predicts the next with R^2 0.998): there a feature leaks only when it leaves at most half the
# error of the target's own previous value (persistence, the forecaster's naive baseline).
LEAK_PERSISTENCE = 0.5

# A time series split at random: 90% or more of the evaluation times lie within the training times'
# 1%-99% range, the two time distributions are alike (KS D under 0.1, where a held-out block in the middle
# gives its share of the range), and consecutive samples in time are alike (lag-1 autocorrelation of the
# target of at least 0.5): rows that are not a series (photos with a capture date) are split at random rightly.
SHUFFLE_INSIDE = 0.9
SHUFFLE_SIMILAR = 0.1
SHUFFLE_AUTOCORR = 0.5

# Label noise (data/label_noise.py), judged on at most 5,000 sampled rows (a k-d tree query stays around a
# second). Without a model's probabilities: a row whose 10 nearest neighbours (standardised numeric
# features) carry, at 9 or more, one other label. A flipped label inside a class's region is contradicted
# so by about 7 neighbourhoods in 10; a boundary between confusable classes mixes the neighbourhood. On
# synthetic sets (separated and overlapping Gaussian classes, 3-10 classes, 150-5,000 rows, two moons)
# 0-1.5% of clean rows are suspect, and 10% flipped labels make 5-8% suspect (kNN cannot see noise where
# 3 of 20 features decide the class: 1.4%). A share of 3% or more, and at least 5 rows, is a finding;
# confident learning (with out-of-sample probabilities) uses the same bar: a calibrated model contradicts
# a clean label confidently on a few percent of rows at most.
LABEL_NOISE_CAP = 5000
LABEL_NOISE_K = 10
LABEL_NOISE_AGREE = 0.9
LABEL_NOISE_SHARE = 0.03
LABEL_NOISE_MIN_ROWS = 5
# Evaluation slices (data/slices.py): a slice is judged from 30 rows (a smaller one is listed, never
# judged); it underperforms when it is worse than the other rows by a Welch t of 4 or more (Bonferroni over
# up to ~1,000 slices at a two-sided 1e-4 per slice keeps the family-wise rate under 10%) and by at least a
# quarter of the aggregate's error (a real but small difference between large slices is not a failure the
# average hides).
SLICE_MIN_ROWS = 30
SLICE_T = 4.0
SLICE_GAP = 0.25
# The leakage tracer (data/leakage.py): an output of another sample that moves by more than OUTPUT_CHANGE
# (1e-5 of the output's scale; see the probes) when one sample is poisoned is a leak. The finite sentinel
# is 1e4 times the batch's largest float magnitude (at least 1e4): far outside any real value, finite in
# float32 and bfloat16.
POISON_SCALE = 1e4

# ── driving logs (data --domain driving) ─────────────────────────────────────────────────────────
# Derivatives of positions are taken over windows of 0.5 s, not single steps: position noise of 10 cm at
# 10 Hz gives single-step accelerations of about 25 m/s^2 but windowed ones of about 1 m/s^2, so the
# limits below judge the motion, not the sensor noise.
DRIVE_WINDOW = 0.5
# Road vehicles: 70 m/s (250 km/h) is beyond what a logged car sustains; tyre friction (mu about 1) bounds
# a car's acceleration, braking and cornering together near 1 g, so 1.5 g (15 m/s^2) leaves room for
# estimation; emergency braking builds up at 20-50 m/s^3 (brake systems reach -10 m/s^2 in 0.2-0.5 s).
# The units check reads the 95th percentiles of speed and acceleration of the median episode (units are a
# source's, glitches an episode's: a few do not move it); the feasibility check counts the steps past any
# limit, in data whose units are plausible.
DRIVE_SPEED_MAX = 70.0
DRIVE_ACCEL_MAX = 15.0
DRIVE_JERK_MAX = 50.0
# Heading units from physics: the heading's change per radian of change of the direction of motion (from
# the positions) is 1 in radians and 57.3 in degrees; read over steps moving faster than 1 m/s, with at
# least 1 rad of turning in all. Without turning, a heading beyond +-2 pi within +-360 is degrees.
HEADING_MOVING = 1.0
HEADING_TURNING = 1.0
# Frames: an episode starting within 1 m of the origin (or 1% of its extent) is in an ego frame, else in a
# world frame. Mixed when each kind holds at least 5% of the episodes (a world frame's origin rarely falls on
# an episode's start).
FRAME_ORIGIN = 1.0
FRAME_MIXED = 0.05
# Timestamps: steps going back or repeating within an episode on at least 0.1% of the steps; a step that is
# 25% or more off the episode's median step (a dropped frame doubles it), on at least 1% of the steps, or
# episodes whose median steps differ by 25%.
TIME_DISORDER_SHARE = 0.001
STEP_TOLERANCE = 0.25
UNEVEN_SHARE = 0.01
# Lags by cross-correlation of velocities (changes over the 0.5 s window, per second) up to 10 steps either
# way; a lag is the centre of the correlation's peak (the vertex of a parabola through it), so a smooth
# signal's broad peak still gives it to a fraction of a step. A target follows the motion when its changes
# correlate with the state's at 0.5 or more; it should lead it: an absolute target by its horizon h, an
# offset p[t+h] - p[t] by its window's centre h/2 (compared with the accelerations), so half a step or more
# for h = 1; a lead under a quarter step (the present, or the past: -h/2) is no future. A feature
# is a copy of the state's future when it correlates at 0.8 or more with the peak's centre a whole step
# ahead or more: position noise caps a copy's correlation below 1 (0.88 at 20 Hz with 5 cm of noise), a
# cause of another derivative order (a throttle, an acceleration) correlates far lower, and a logged value
# of the present may sit half a step off the positions (a speed held over the step), never a whole one.
# Lane widths (a lane-width column, read as metres): 2.5-5.0 m. Road design guides put lanes at 2.7-3.7 m
# (AASHTO's Green Book: 3.6 m on highways, 2.7-3.3 m urban; 3.5-3.75 m on European motorways); 2.5 m and
# 5.0 m leave room for narrow urban lanes and wide ramps. In feet (8-16 ft) or centimetres (250-500) no
# median falls in the range; a rescaling that brings it there names the unit.
LANE_WIDTH = (2.5, 5.0)

# The generic check of features against future targets (data/future.py) uses the same LAG_MAX, FUTURE_CORR
# and FUTURE_LEAD, and asks more: the peak must beat the target's own autocorrelation at that lag.
LAG_MAX = 10
LAG_MIN_CORR = 0.5
FUTURE_CORR = 0.8
FUTURE_LEAD = 1.0
TARGET_AHEAD = 0.25

# ── robot demonstrations (data --domain robotics) ───────────────────────────────────────────────
# Observation-action lag: an action at step t shows in the observation's change from t to t+1; the lag is
# the peak of the cross-correlation of action differences with observation changes (differencing removes
# the smooth trends a policy's feedback puts into both), judged on pairs correlating at 0.3 or more.
ACTION_LAG_CORR = 0.3
# Discretised actions: 256 uniform bins between each dimension's min and max (RT-1, OpenVLA). The bins the
# data effectively uses (the exponential of the binned entropy) under 10% of them: a Gaussian action uses
# about 53%, a Laplace one about 30%, a heavy-tailed one (Student t, 2 d.o.f.) a few percent.
ACTION_BINS = 256
BIN_EFFECTIVE = 0.1
# Noise schedules against the action statistics: at the last step the data must be drowned, a signal-to-
# noise ratio alpha_bar / (1 - alpha_bar) times the action variance under 1e-2 (Lin et al. 2024, "Common
# diffusion noise schedules are flawed": a non-zero terminal SNR leaves the model unable to start from
# pure noise). Schedules are tuned on images scaled to [-1, 1] (a standard deviation near 0.5) or on
# standardised data (1): actions with a standard deviation beyond 1.5 (the seeds' example is 2.0: every step's
# SNR 9 to 16 times the designed one, the noise miscalibrated) or under 0.1 (25 times lower than images: most
# steps pure noise) do not fit them.
TERMINAL_SNR = 1e-2
SCHEDULE_STD = (0.1, 1.5)
# Bimodal demonstrations: among the 20 nearest observations of a sampled observation, the actions split in
# two clusters (each holding 20% or more) whose centres lie 4 pooled standard deviations apart or more, with
# an empty stretch between them along the line of centres (where their mean, the MSE's answer, falls) 6 times
# the mean spacing of the other actions there or more: among 20 actions from one spread-out mode the gaps are
# about exponential, the largest near ln(20) = 3 spacings, and a gap of 6 comes by chance 0.25% of the time
# (a uniform spread splits 4 deviations apart but has no such gap); and
# which cluster an action falls in the nearest other observation predicts no better than halfway from chance
# to certainty (a policy that switches at a boundary is predictable there: its neighbours on each side act
# alike); on 10% of the neighbourhoods or more. Neighbours come from other episodes (an episode's frames are
# alike and act alike).
BIMODAL_NEIGHBOURS = 20
BIMODAL_PREDICTED = 0.5
BIMODAL_MIN_SHARE = 0.2
BIMODAL_SEPARATION = 4.0
BIMODAL_GAP = 6.0
BIMODAL_NEIGHBOURHOODS = 0.1

# Multi-loss balance (judge/loss_balance.py), on the gradients each additive term of the loss sends to the
# parameters two or more terms reach. A term whose gradient is under 1e-3 of the largest term's has no say
# in the update of those weights: three orders of magnitude, where deliberate auxiliary weights (0.01-0.1
# on a comparable term, 0.01 on an entropy bonus, a VAE's beta) stay one or two orders below; the seeds'
# loss-surface table calls an axis 1000x another "imbalanced". It must hold on every sample (batches and
# operating points, never one batch), and the term must not have fallen by half meanwhile: a term that
# keeps falling (through its own head, or because it is nearly satisfied) is being served.
IMBALANCE_RATIO = 1e-3
IMBALANCE_FELL = 0.5
# Between two tasks (terms that read targets) that no weight in the loss sets apart, two orders of magnitude
# are enough when the values show the outcome: the larger task fell by IMBALANCE_FELL, the smaller did not —
# the step size the larger one sets leaves the other unserved (a sum beside a mean). Only a weight written
# into the loss is a choice to keep a task one or two orders below another.
IMBALANCE_TASKS = 1e-2
# A task (a term that reads a target) is displaced when a penalty on the outputs or weights (a term that reads
# none) sends a gradient 10x its own on every sample — an order of magnitude: the penalty steers the update —
# and the values show the outcome: the penalty fell by IMBALANCE_FELL, the task did not.
IMBALANCE_DISPLACED = 0.1
# A task is traded away when, its gradient an order below (IMBALANCE_DISPLACED) the largest term's on every
# sample, its value grew by this fraction of its start or more (doubled) while that term fell by
# IMBALANCE_FELL: the larger term's steps move the shared weights against it and it has too little say to
# hold them (a boundary condition beside a PDE residual). No weight is meant to make a task worse.
IMBALANCE_WORSE = 1.0
# A penalty meets its own optimum when it falls by this share of its start: a task drowned at the start by the
# penalty's scale (IMBALANCE_DISPLACED, the weights taken out) found the shared weights already where the penalty
# wants them (a posterior collapsed onto the prior) once it could have had a say. And a task starved: still
# within NEAR_CHANCE of an uninformed model's value for it (ln C, the targets' variance) at the final weights,
# while a term sending a larger gradient on every sample was met — the outcome is conclusive whatever the
# ratio, one term served to the end and the task never.
IMBALANCE_MET = 0.9
# Two terms cancel when the norm of their summed gradient is at most half the sum of their norms (equal
# norms at a cosine of -0.5 or below; unequal norms need a stronger opposition). At the optimum of any
# weighted sum the terms' gradients oppose exactly (a VAE's KL and reconstruction, an entropy bonus and the
# policy gradient at their compromise), so cancelling is a conflict only when it holds from the start of
# training (the run's initial weights, the Monitor's first samples) and on every later sample.
CONFLICT_CANCEL = 0.5
# Samples needed before judging: run measures 2 batches at the initial and the final weights; the Monitor
# judges its first 3 sampled steps (conflict) and its latest 3 (imbalance).
BALANCE_SAMPLES = 3
# At most this many terms are judged as separate objectives: a loss summed over many pieces (time steps,
# positions, an ensemble's members) is one objective over parts, not a multi-loss balance.
BALANCE_MAX_TERMS = 6

# The loss surface (surface/ and checkup's loss-table probe). A dead zone: the loss lies above its lowest
# value by more than 1e-3 of its range, yet crossing each axis's whole range at the local slope would change
# it by less than 1e-6 of that range (float32 resolves about 1e-7 relative: such a slope moves nothing). On a
# grid it is a region when it covers 5% of the cells (two rows of a 41-point grid); a point of the table
# counts on its own.
SURFACE_ABOVE_MIN = 1e-3
SURFACE_FLAT = 1e-6
SURFACE_DEAD_SHARE = 0.05
# Axes imbalanced: the seeds' loss-surface table, "gradient magnitude 1000x in one axis vs another" (the
# median magnitude over the grid's finite cells).
SURFACE_IMBALANCE = 1e3
# A saddle: an interior grid point whose gradient norm is a local minimum under 5% of its median over the
# grid, where the curvatures across the axes' ranges (Hessian eigenvalues times the range widths) have
# opposite signs, each beyond 1% of the loss's range on the grid (x*y on [-3, 3]^2: +-36 against 18).
SURFACE_STATIONARY = 0.05
SURFACE_CURVATURE = 0.01

# why_stuck (judge/stuck.py). A metric "moves" when it improves by more than 0.1% of its value (1e-6 from 0):
# one sample of a batch of 64 changing class is 1.6% of an accuracy, far above; float noise in a
# recomputed metric is far below. The loss is "disconnected" from the metric when moving the outputs along
# its own descent direction (until a first-order fall of a quarter of the loss) does not move the metric;
# "saturated" when that direction lowers it by less than 1e-6 of its value (about zero gradient on the outputs).
STUCK_MOVE = 1e-3
STUCK_SATURATED = 1e-6
# A loss term holds the metric back when training without it moves the metric at least twice as far as training
# with every term (a term that only slows the metric a little is a weighting, not a competitor).
STUCK_COMPETING = 2.0

# Two models in a game (judge/adversaries.py): D's and G's losses pull D's score of generated samples the
# same way when, on at least 3 measured backward calls of each, 80% or more of each side's pulls share
# one sign and the two signs agree. With BCE (targets 0/1 or smoothed), the non-saturating generator,
# hinge and WGAN losses the pull has a fixed sign at every step (sigmoid(s) - target, or a constant +-1/n),
# so a healthy game agrees at none of them; least squares can cross when D overshoots its fake target,
# hence a share rather than every call, siding with silence.
GAME_MIN_PULLS = 3
GAME_AGREEMENT = 0.8

# Images scrambled before the model (diagnosis/probes/structure.py, measure.views.roughness): a convolution
# presumes a pixel is like its neighbours. The first 2-D convolution's input is judged scrambled when the same
# values read as the channels-last memory a view would have taken them from are an image (row roughness at
# most 0.6: vertical neighbours share 40% of their variance or more) and at least 1.6x smoother than the
# reading given. Measured on synthetic shapes, gradients and low-pass noise, 8x8 to 32x32, 1-4 channels: a
# scrambled layout reads 2.0-120x smoother the other way (2.0: near-grey colours), a correct one 0.1-0.8x
# (reading it the other way scrambles its own neighbours). Both readings of one batch are compared, so images
# without spatial structure (noise, both readings near 1) are never judged. Offsets make that reading smooth
# too: noise images with a mean per channel, read as channels-last memory, are horizontal bands, one channel
# each, whose neighbours share a band while pixels across the image do not (0.4 in the 3-channel case).
# So that reading must also show local structure in both directions (measure.views.local_roughness:
# neighbours against pixels 3 steps away, in the same image and channel) at most 0.7: band edges lower it
# down the columns only (0.44-0.88; across 0.94-1.0: per-channel-offset noise, 8 to 20 rows, 2-4 channels), while
# scrambled images read back show 0.24-0.52 both ways (the shapes above, blobs, 8x8 to 32x32).
LAYOUT_IMAGE = 0.6
LAYOUT_SMOOTHER = 1.6
LAYOUT_LOCAL = 0.7

# Dense targets displaced from their inputs (measure/dense.py, judge/dense.py). Each sample's target is fitted
# by a local linear model of its own input, as given and moved (flips, half turn, transpose, even shifts):
# the share of its variance left is u. A transform *places* a target when u <= DENSE_FIT (the input explains
# half of it); samples no transform places say nothing about where the target is and are left out. A sample
# is *moved* when a transform leaves at most DENSE_MOVED of what the target as given leaves, and the fit is
# displaced when moved samples are at least DENSE_MOVED_SHARE of the placed ones and DENSE_MOVED_MIN in all.
# Measured on synthetic segmentation, heatmaps, denoising crops and 1-D tagging (grids 20x20-32x32, 48-64 long):
# in place, u as given 0.01-0.2 and the best move 0.1-0.7 (its ratio 3x or more, never below 1); displaced
# samples, moved 0.02-0.4 against 0.5-0.99 as given (ratio 0.02-0.4); a random flip moves half the samples,
# a crop drawn twice the 10-70% whose two offsets fall within the shifts. One transform for at least
# DENSE_CONSISTENT of the placed samples (nearly none in place) may be the task itself (a mirror image).
# Smooth fields and sparse blobs fit by chance (few independent positions, many transforms): each input is
# also fitted with three other samples' targets, and a target is placed only if fitted better than the
# DENSE_CHANCE quantile of those fits (as given or moved) — a quantile, not the minimum, since a batch may
# hold two crops of one image. About DENSE_CHANCE of targets unrelated to their inputs are placed, and all
# of them moved: moved samples must be DENSE_OVER_CHANCE times as many. That quantile measured 0.05 (sparse
# heatmaps) to 0.56 (smooth textures).
DENSE_FIT = 0.5
# A target whose input explains all but DENSE_ALIGNED of its variance as given is in place: a move cannot do
# markedly better than a fit that is already exact (a reconstruction: the target is the input), only differ in
# rounding.
DENSE_ALIGNED = 0.1
DENSE_MOVED = 0.5
DENSE_MOVED_SHARE = 0.2
DENSE_MOVED_MIN = 3
DENSE_CONSISTENT = 0.8
DENSE_CHANCE = 0.05
DENSE_OVER_CHANCE = 2

# Point targets displaced from their inputs (measure/points.py, judge/points.py): the patch at each target,
# scored against the other samples' mean patch under the same move of the image, is *placed* when it scores
# above all but POINTS_CHANCE of patches read at another sample's target (where nothing is located). Moved
# samples (placed only with the image moved) are judged with the DENSE_ shares above, and must be
# DENSE_OVER_CHANCE times the POINTS_CHANCE hits expected among the other moves of the samples not placed.
POINTS_CHANCE = 0.01
# The moved hits must also be stronger than chance's own: each hit's score over its move's chance level, against
# the same ratio of the patches read at other samples' targets that cleared it, one-sided Mann-Whitney p below
# POINTS_STRONGER_P (the 1% of POINTS_CHANCE). Hits that many moves add up at chance's strength are chance's: a
# tabular row read as an 8x8 grid, a ring's empty centre.
POINTS_STRONGER_P = 0.01
