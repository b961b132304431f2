"""What the model computes, probed on copies by `checkup`."""

from ..hypothesis import Hypothesis
from . import Code, MECHANISM, OVERFIT, MISMATCH, CONSTANT

AREA = "architecture"

CODES = (
    Code(
        code="targets-misaligned",
        title="The targets are scored against other samples' outputs",
        severity="error",
        stage=MECHANISM,
        what=(
            "On the loss recorded from the training loop: sample 0's targets in a torch loss function (or a tensor "
            "a hand-written loss combines entry by entry with the outputs) are changed, and the gradient of the "
            "other samples' outputs must not move. It moves when outputs and targets are laid out differently "
            "before they meet. A value computed without gradient from several samples' targets — a batch-mean "
            "baseline, advantages normalised over the batch — reaches every sample by design and is held as it was. "
            "A class index over the cells of the input's grid (a heatmap's argmax as target) is read as the logits are "
            "flattened, row-major: when nearly every sample's index sits on content alike across samples only with the "
            "image transposed, it was built in the other axis order."),
        why=(
            "A (time, batch) output flattened or viewed as if it were (batch, time) — view() where permute() was "
            "meant, targets flattened in the other order — pairs each target with another sample's prediction: "
            "the loss is computed, falls a little, and the model learns a scrambled task."),
        hypotheses=(
            Hypothesis("a view()/reshape() on a sequence-first output where a permute()/transpose() was meant",
                       "print output.shape and target.shape just before the loss, and which dim holds the batch"),
            Hypothesis(
                cause="the targets were flattened batch-first while the outputs are time-first (or the reverse)",
                check="flatten both from the same layout: out.transpose(0, 1).reshape(-1, V) with y.reshape(-1)",
                kind="subtle",
            ),
        ),
        next_step="Bring outputs and targets to the same layout with permute()/transpose() before flattening.",
        bad="out = rnn(x)[0]                 # (T, B, V)\nloss = F.cross_entropy(out.view(-1, V), y.view(-1))  # y: (B, T)",
        good="loss = F.cross_entropy(out.transpose(0, 1).reshape(-1, V), y.reshape(-1))",
        explains=("loss-plateau", "underfitting", "slow-convergence", "init-loss-mismatch", "cannot-overfit-batch",
                  "labels-decoupled"),
    ),
    Code(
        code="symmetric-units",
        title="A layer's units are copies of each other",
        severity="warning",
        stage=MECHANISM,
        what=(
            "A layer of two or more units that started with identical incoming weights, and whose change keeps "
            "them alike: at most half of what training changed in them (run, from the state before the first "
            "update) or of the batch's gradient (checkup, or a layer training did not move) differs between "
            "units, or nothing but their biases tells them apart (with the biases made equal, the gradient at the "
            "start is alike whatever the output's: the same outgoing role; behind a zero-initialised layer, read "
            "after one small step has moved it). A unit is a Linear's weight row, a convolution's output channel "
            "(within its group), an embedding's dimension, a recurrent layer's hidden unit (its row in every "
            "gate), an attention layer's query/key/value dimension, or a slice along any dimension of a tensor "
            "outside the model's layers that the loss multiplies as a matrix (made with requires_grad=True, "
            "held in a global, a dict or a plain attribute; judged by what training changed in it, from its "
            "exact copies before the first update). An error once the loss does not learn."),
        why=(
            "Units with the same incoming weights compute the same value, and when they also receive the same "
            "gradient every update keeps them equal: the layer of width n works as a single unit, and the model "
            "cannot express what it was sized for. Constant or zero initialisation of consecutive layers does it "
            "(with zeros the hidden layers' gradient is zero too, and they never move; so does a zero "
            "convolution before a batch norm whose weight is zero too, which no gradient ever reaches). Random "
            "biases or dropout separate the units too little to matter (Adam can grow the biases' differences, yet "
            "every unit still reads the input through the same direction); a following layer with random weights "
            "separates them fully, which is why a zero-initialised output layer or residual branch is healthy "
            "(the batch norm after the branch's last layer keeping its weight, or that weight zero and the layer "
            "random: one zero factor, not two). Identical units "
            "are all active or all dead together: dead ReLUs, saturated tanh, or ReLUs all in their linear range "
            "(the stack then computes a linear map), and with a constant too large, a first loss far from chance. A "
            "model that reads its inputs through one unit fits a batch by its mean and no better on another with "
            "the real pairing than shuffled: what reads as targets decoupled from the inputs."),
        hypotheses=(
            Hypothesis("the layer (and the next) was initialised to a constant or to zero",
                       "print the layer's weight: every row is the same"),
            Hypothesis(
                cause="a custom init function fills every unit from one draw",
                check="look for a tensor created once and copied into every row (expand, repeat, fill_)",
                kind="subtle",
            ),
        ),
        next_step="Initialise the weights randomly (the module's default reset_parameters, or nn.init.kaiming_uniform_).",
        bad="nn.init.constant_(layer.weight, 0.5)",
        good="nn.init.kaiming_uniform_(layer.weight, a=5 ** 0.5)",
        explains=("cannot-overfit-batch", "loss-plateau", "underfitting", "constant-output", "slow-convergence",
                  "vanishing-gradients", "input-ignored", "dead-relu", "saturated-activations", "lr-too-low",
                  "init-loss-mismatch", "labels-decoupled"),
    ),
    Code(
        code="batch-mixing",
        title="One sample's output depends on other samples in the batch",
        severity="error",
        stage=MECHANISM,
        what=(
            "Perturbs one sample of a batch (model in eval mode) and checks whether other samples' outputs "
            "change."),
        why=(
            "Outputs that mix samples usually come from reshape/view where transpose/permute was meant: the "
            "model trains on scrambled data and the results do not transfer."),
        hypotheses=(
            Hypothesis(
                cause="view/reshape used to swap dimensions",
                check="replace the view with permute and re-run this probe",
            ),
            Hypothesis(
                cause="a normalization or attention over the batch dimension",
                check="check which dim each norm/attention reduces over",
                kind="subtle",
            ),
        ),
        next_step="Use permute/transpose to reorder dimensions; reduce over the intended dims only.",
        bad="x = x.view(T, B, D)   # x is (B, T, D)",
        good="x = x.transpose(0, 1)  # (T, B, D)",
        explains=("cannot-overfit-batch", "loss-plateau", "labels-decoupled"),
    ),
    Code(
        code="causal-leak",
        title="Outputs at position t depend on inputs after t",
        severity="error",
        stage=MECHANISM,
        what="When the targets are an input shifted ahead (next token, next step of a series: found on any layout "
             "from the batch), changes that input after position t and checks the outputs up to t do not move.",
        why="A model that reads the value it is scored against learns to copy it: the training loss falls far below "
            "what next-step prediction allows, and generation or forecasting, where the future is absent, fails.",
        hypotheses=(
            Hypothesis(
                cause="the attention mask is missing, transposed (tril for triu) or its 0 and -inf are swapped",
                check="print the mask: position t may attend to keys 0..t only",
            ),
            Hypothesis(
                cause="a bidirectional RNN (bidirectional=True) predicts the next step",
                check="the backward direction has read the whole sequence; use one direction",
            ),
            Hypothesis(
                cause="a convolution pads both sides ('same' padding) on a forecasting task",
                check="pad (kernel - 1) * dilation on the left only, or chomp the right",
            ),
        ),
        next_step="Make output t read inputs 0..t only: a causal mask, one RNN direction, left-only padding.",
        bad="attn(q, k, v)",
        good="F.scaled_dot_product_attention(q, k, v, is_causal=True)",
        explains=("label-leakage",),
    ),
    Code(
        code="targets-too-far-ahead",
        title="A token model is scored against a token two or more positions ahead",
        severity="error",
        stage=MECHANISM,
        what="When the targets are an input of token ids shifted ahead (found on any layout from the batch, with the "
             "shift a Hugging Face model applies to its `labels` inside counted), flags a shift of two positions or "
             "more: the output at p is scored against token p + k, k >= 2.",
        why="A next-token model predicts token p + 1 from tokens 0..p. Shifted twice — by the collator or the data "
            "pipeline, and again by the model or the loss — the targets skip a token: the model trains on a harder, "
            "noisier task, its loss stays high, and what it generates is off by one. Real-valued series may be "
            "forecast k steps ahead on purpose; token ids are not.",
        hypotheses=(
            Hypothesis(
                cause="the labels are shifted in the data pipeline and again inside the model (a Hugging Face causal "
                      "LM shifts `labels` itself)",
                check="print input_ids[0, :8] next to labels[0, :8]: for a model that shifts inside they are equal",
            ),
            Hypothesis(
                cause="the targets are sliced [2:] (or the logits [:-2]) where one position was meant",
                check="compare the target at position 0 with the input at position 1",
            ),
            Hypothesis(
                cause="the model is meant to predict k tokens ahead (a multi-token head)",
                check="one head per offset, the first at +1: then this is by design", kind="null",
            ),
        ),
        next_step="Shift the targets once: labels = input_ids for a model that shifts inside, else targets = ids[:, 1:].",
        bad="batch['labels'] = batch['input_ids'][:, 1:]  # and the model shifts labels again",
        good="batch['labels'] = batch['input_ids'].clone()  # the model shifts once",
        explains=("loss-plateau", "slow-convergence", "underfitting"),
    ),
    Code(
        code="cannot-overfit-batch",
        title="The model cannot overfit a single batch",
        severity="error",
        stage=OVERFIT,
        what="Trains a copy on one batch and checks the loss falls close to zero.",
        why="Any working model can memorize one batch; failing to means a bug in the loss, gradient flow or data.",
        hypotheses=(
            Hypothesis("gradient flow is broken (detach, frozen or unused layers)", "check per-layer grad norms"),
            Hypothesis("the loss or labels are wrong", "compute the loss by hand for two samples", kind="subtle"),
        ),
        next_step="Inspect gradient flow and the loss function before tuning anything.",
        bad="# a loss that cannot reach 0 on one batch",
        good="# the same batch driven to ~0 loss in a few hundred steps",
    ),
    Code(
        code="constant-output",
        title="The model outputs the same value for every sample",
        severity="warning",
        stage=CONSTANT,
        what="Detects outputs that are identical across the samples of a batch.",
        why=(
            "Constant outputs mean the input is ignored: dead units, collapsed features, or a target that "
            "rewards predicting the mean."),
        hypotheses=(
            Hypothesis("dead activations or zero init", "print per-layer activation std"),
            Hypothesis("class imbalance rewards the majority class", "print the label histogram", kind="subtle"),
        ),
        next_step="Check activations, init and the label distribution.",
        bad="nn.init.zeros_(layer.weight)",
        good="nn.init.kaiming_uniform_(layer.weight)",
    ),
    Code(
        code="input-ignored",
        title="The model does as well on random inputs as on real ones",
        severity="warning",
        stage=CONSTANT,
        what=("Compares the loss on real inputs with the loss on zeroed / random inputs (checkup, after "
              "overfitting one batch), or with each sample's inputs moved to another sample (run's experiments, "
              "after 50 steps on a recorded batch)."),
        why="If destroying the input does not hurt, the model learned the label prior, not the task.",
        hypotheses=(
            Hypothesis("inputs and labels are misaligned", "shuffle labels and compare losses"),
            Hypothesis("the inputs never reach the output (multiplied by zero, the wrong tensor passed on, a first "
                       "layer dead on every sample)",
                       "print the output for two different inputs: identical outputs mean the path is broken"),
        ),
        next_step="Check the data pipeline's pairing of inputs and labels.",
        bad="x, y = xs[idx], ys[perm[idx]]",
        good="x, y = xs[idx], ys[idx]",
    ),
    Code(
        code="batch-size-assumption",
        title="The model breaks on a different batch size",
        severity="error",
        stage=MECHANISM,
        what=(
            "Reruns the batch with a prime batch size (7) and checks the forward pass, the loss and the output "
            "shape."),
        why=(
            "Code that hard-codes the batch size (a view with a literal size, a fixed-size buffer) fails on the "
            "last, smaller batch of an epoch, or silently reshapes samples into each other."),
        hypotheses=(
            Hypothesis(
                cause="a view/reshape with a literal batch size",
                check="grep the forward for view( and reshape( with numbers",
            ),
            Hypothesis(
                cause="a buffer or mask built for one batch size",
                check="print the shapes of registered buffers",
                kind="subtle",
            ),
        ),
        next_step="Derive sizes from the input (x.shape[0], -1) instead of constants.",
        bad="h = h.view(64, -1)",
        good="h = h.view(h.shape[0], -1)",
    ),
    Code(
        code="nondeterministic-eval",
        title="Evaluation runs training-mode behaviour (dropout, batch statistics)",
        severity="warning",
        stage=MISMATCH,
        what=(
            "Records the operations an eval-mode forward runs on a copy: dropout in training form (F.dropout's "
            "`training` defaults to True), a random mask of constant rate multiplied in by hand, attention "
            "dropout, batch statistics although running ones exist; and compares two passes with the same random "
            "draws, each on its own copy (a state the model keeps between calls starts alike). Sampling by design "
            "(randn, multinomial, ... in a VAE, a diffusion step, a policy) is not a finding."),
        why=(
            "Training-mode behaviour left on at evaluation (dropout that ignores eval(), the batch's statistics "
            "instead of the running ones) makes metrics noisy, batch-dependent and irreproducible."),
        hypotheses=(
            Hypothesis(
                cause=(
                    "F.dropout(x, p) without training=self.training, or a dropout module whose forward ignores "
                    "self.training"),
                check="grep forward for dropout( and bernoulli",
            ),
            Hypothesis(
                cause="F.batch_norm(..., training=True) or attention dropout_p set whatever the mode",
                check="grep for batch_norm( and dropout_p",
                kind="subtle",
            ),
            Hypothesis(
                cause="the forward keeps state outside the model between calls (a global counter or cache)",
                check="call two copies of the model on one batch in eval mode and compare",
                kind="subtle",
            ),
        ),
        next_step="Tie dropout and batch statistics to self.training; use model.eval() semantics in custom code.",
        bad="x = F.dropout(x, p=0.1)",
        good="x = F.dropout(x, p=0.1, training=self.training)",
    ),
    Code(
        code="padding-mask-inverted",
        title="The attention padding mask hides the tokens and shows the padding",
        severity="error",
        stage=MECHANISM,
        what=(
            "Finds the padding from the data (the value filling the tails or heads of an integer input's "
            "sequences, never assumed to be 0), then reads the masks attention receives on an eval-mode copy: "
            "key_padding_mask and attn_mask of nn.MultiheadAttention and the nn.Transformer layers, attn_mask of "
            "F.scaled_dot_product_attention, and scores of -1000 or below entering a softmax (masked_fill, "
            "torch.where, an additive mask). A mask that hides the content positions from every query and leaves "
            "the padding visible is inverted."),
        why=(
            "A padding mask hides the padding, not the content. Inverted, every query attends only to the padding "
            "(or to nothing, giving NaN, for a sequence without any), so the read-out never sees the tokens: the "
            "model learns at best the sequence length, and the loss stalls near the label prior."),
        hypotheses=(
            Hypothesis(
                cause=(
                    "a tokenizer-style attention_mask (True/1 = real token) passed as key_padding_mask or "
                    "src_key_padding_mask, whose True means 'ignore this key'"),
                check="print mask[0] next to input_ids[0]: True must sit on the padding",
            ),
            Hypothesis(
                cause="the mask built as ids != pad where ids == pad was meant (or the reverse for SDPA's attn_mask)",
                check="grep the forward for == pad / != pad and note which polarity the attention takes",
                kind="subtle",
            ),
            Hypothesis(
                cause="an additive mask built as mask * -inf instead of (1 - mask) * -inf, or masked_fill(mask, -inf)",
                check="print the mask's values at a padding position and at a token",
                kind="subtle",
            ),
        ),
        next_step=(
            "Invert the mask where it is passed: key_padding_mask=~attention_mask.bool() (True = ignore); "
            "F.scaled_dot_product_attention takes True = attend."),
        bad="h = encoder(x, src_key_padding_mask=attention_mask.bool())",
        good="h = encoder(x, src_key_padding_mask=~attention_mask.bool())",
        explains=("labels-decoupled", "input-ignored", "cannot-overfit-batch", "loss-plateau", "underfitting",
                  "slow-convergence", "nonfinite-forward", "constant-output"),
    ),
    Code(
        code="layout-scrambled",
        title="A view or reshape reorders dimensions instead of transposing them",
        severity="error",
        stage=MECHANISM,
        what=(
            "Every view()/reshape() called from the user's code — in one forward of a copy (checkup, run's "
            "probes) and, under run, everywhere else the script calls them: loading, the data pipeline, the loop, "
            "between the model's output and the loss — whose result holds an axis of its input elsewhere in memory "
            "order: a size above 1 both shapes hold, at a step between elements where the other shape holds no axis "
            "of that size ((B, H, W, C) to (B, C, H, W); (B, C, H, W) to (B*H*W, C)); read on one sample fewer too, "
            "where a square batch hides it; under run, a numpy array handed to torch (from_numpy, as_tensor, tensor) "
            "that is a reshape of the array owning its memory into its dimensions in another order. And, wherever "
            "the layout was broken (a numpy reshape whose array was copied since, say), the images the model's first "
            "2-D convolution reads (2 channels or more): scrambled when the same values "
            "read as the channels-last memory a view would have taken them from form an image whose vertical "
            "neighbours are far more alike than those of the reading given."),
        why=(
            "view() and reshape() keep the elements in memory order and only change how they are indexed. Asked "
            "for (B, C, H, W) from a (B, H, W, C) image, or (B, T, F) from a (T, B, F) sequence, they return the "
            "right shape filled with the wrong elements: pixels from other channels, steps from other samples. "
            "Training runs, the loss falls a little, and the model learns a scrambled task."),
        hypotheses=(
            Hypothesis("view()/reshape() where permute()/transpose() was meant",
                       "at the reported line, compare x.view(shape) with x.permute(order) on a small tensor"),
            Hypothesis(
                cause="the data arrive in another layout than the model assumes (channels-last images, time-first sequences)",
                check="print the input's shape at the model's entry and what each axis holds",
                kind="subtle",
            ),
        ),
        next_step="Reorder axes with permute()/transpose() (then .contiguous() if a view is needed next).",
        bad="x = x.view(B, C, H, W)      # x is (B, H, W, C)",
        good="x = x.permute(0, 3, 1, 2)   # (B, H, W, C) -> (B, C, H, W)",
        # a convolution's locality prior no longer holds: what it fits of a scrambled task generalizes worse
        explains=("batch-mixing", "targets-misaligned", "labels-decoupled", "input-ignored", "cannot-overfit-batch",
                  "loss-plateau", "underfitting", "slow-convergence", "overfitting"),
    ),
    Code(
        code="no-nonlinearity",
        title="No nonlinearity between the weight layers: the stack is one linear map",
        severity="warning",
        stage=MECHANISM,
        what=(
            "On a copy in eval mode, the weight layer closest to the output is evaluated at two samples' inputs "
            "and at their midpoint; with two or more weight layers in series before it (counted on the autograd "
            "graph), an output at the midpoint equal to the midpoint of the outputs means the layer is an affine "
            "function of the inputs on this batch. Named only when the autograd graph agrees: every op between the "
            "weights is one known to be linear (matrix products and convolutions with one input-dependent factor, "
            "sums, reshapes, concatenation, indexing, average pooling, padding, dropout and batch norm in eval). A "
            "ReLU whose units all keep one sign on the batch, or a tanh near zero, is idle, not absent: no finding. "
            "An error when the loss does not learn; information when it learns (`run`: no sign of a stall, and "
            "down to half its start or less), as a linear map then fits the task."),
        why=(
            "A composition of linear maps is a linear map: without an activation between them, hidden layers of "
            "any width and depth add parameters but no expressive power, and the model fits only what a single "
            "linear layer fits. On a task that needs a nonlinear function the loss stops at the linear model's "
            "floor."),
        hypotheses=(
            Hypothesis("the activation was left out of an nn.Sequential, or defined in __init__ and never called "
                       "in forward", "print the model and read forward: is a ReLU/GELU/tanh applied between the layers? "
                       "Or walk the output's grad_fn.next_functions: a ReluBackward0 between the layers refutes it"),
            Hypothesis(
                cause="the activation is applied out of place and its result dropped (F.relu(x) without x = ...)",
                check="look for an activation call whose result is not assigned",
                kind="subtle",
            ),
            Hypothesis(
                cause="a deliberately linear model (a linear autoencoder, a low-rank factorisation)",
                check="if it is meant to be linear, one layer of the product's rank computes the same map",
                kind="null",
            ),
        ),
        next_step="Put an activation between the layers: nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, k)).",
        bad="nn.Sequential(nn.Linear(2, 64), nn.Linear(64, 64), nn.Linear(64, 1))",
        good="nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))",
        explains=("cannot-overfit-batch", "loss-plateau", "underfitting", "slow-convergence", "labels-decoupled"),
    ),
    Code(
        code="capacity-bottleneck",
        title="A layer narrower than what the targets vary in",
        severity="warning",
        stage=MECHANISM,
        what=(
            "On a copy in eval mode with the last training batch, each trainable layer narrower than the targets' "
            "values per sample is tried, narrowest first: with its output replaced by its mean over the batch, is "
            "every sample's output the same? Then all of the samples' information passes through its w units. "
            "Named when more than half of the targets' variance lies outside their top w principal directions. "
            "Regression and reconstruction targets only."),
        why=(
            "A model cannot output more independent directions than its narrowest cut carries: an autoencoder "
            "whose latent has 1 unit, for data that vary along 4 factors, reconstructs at best the part of the data "
            "one direction explains, and its loss stops there however long it trains. A linear read-out of w units "
            "reaches at best the top w principal directions; a curved one somewhat more, never the whole."),
        hypotheses=(
            Hypothesis("the layer's width (a latent size, a hidden size) was set below the data's dimension, or to "
                       "a placeholder", "print the model: widen the layer to the number of directions holding 95% "
                       "of the targets' variance and compare the loss after a few hundred steps"),
            Hypothesis(
                cause="a reshape or a slice keeps fewer features than meant (x[:, :1], a pooling to one value)",
                check="print the shapes through the forward",
                kind="subtle",
            ),
            Hypothesis(
                cause="a deliberately lossy compression (a 2-D latent to plot)",
                check="if the bottleneck is the point, the loss floor it sets is expected: compare with PCA at that width",
                kind="null",
            ),
        ),
        next_step="Widen the layer to at least the number of directions that hold most of the targets' variance.",
        bad="nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 1), nn.Linear(1, 64), nn.ReLU(), nn.Linear(64, 24))",
        good="nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 8), nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 24))",
        explains=("underfitting", "cannot-overfit-batch", "loss-plateau", "slow-convergence", "labels-decoupled"),
    ),
)
