"""The data: its scale, labels and splits."""

from ..hypothesis import Hypothesis
from . import Code, BAD_DATA, MECHANISM

AREA = "data"

CODES = (
    Code(
        code="labels-decoupled",
        title="The targets do not follow the inputs",
        severity="error",
        stage=BAD_DATA,
        what=(
            "An experiment on a copy: the model fits one recorded batch, yet nothing of that fit carries over to "
            "another recorded batch through its real inputs — its loss moves no more than with the inputs shuffled "
            "across samples."),
        why=(
            "A model that can memorise a batch but learns nothing that transfers is fitting noise: the pairing of "
            "inputs and targets was lost somewhere in the pipeline (two lists sorted differently, a shuffle applied "
            "to one of them, labels read from the wrong column), so the loss stays at chance whatever the model."),
        hypotheses=(
            Hypothesis("inputs and labels are ordered or shuffled separately (sorted file names vs listing order, "
                       "a permutation applied to one tensor)",
                       "print a few (input, label) pairs from the Dataset and check them by eye"),
            Hypothesis(
                cause="the labels come from the wrong column or file",
                check="compare the label column with its source, row by row, for a few samples",
                kind="subtle",
            ),
            Hypothesis(
                cause="the task is genuinely unpredictable from these inputs at this point of training",
                check="train a simple baseline (logistic regression, a nearest neighbour) on a few thousand pairs",
                kind="null",
            ),
        ),
        next_step="Find where inputs and targets are paired and check that one index selects both.",
        bad="images = sorted(files)\nlabels = [label_of[f] for f in files]   # listing order",
        good="images = sorted(files)\nlabels = [label_of[f] for f in images]",
        explains=("loss-plateau", "underfitting", "init-loss-mismatch", "slow-convergence", "input-ignored"),
    ),
    Code(
        code="unnormalized-inputs",
        title="Input features are orders of magnitude away from unit scale",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "Measures, on the first training batches, what the model's first weighted layer (Linear, convolution, "
            "RNN, attention) receives — or the model's float inputs — per feature (mean, standard deviation) and as a "
            "root-mean-square; an error when the run does not learn."),
        why=(
            "Features at scale 1e3 dominate the first layer's pre-activations and force tiny learning rates; "
            "mixed scales make the loss surface badly conditioned."),
        hypotheses=(
            Hypothesis(
                cause="raw units or 0-255 pixels fed without normalization",
                check="print per-feature mean/std of one batch",
            ),
        ),
        next_step="Standardize each feature with statistics from the training split.",
        bad="x = torch.tensor(df[cols].values)",
        good="x = torch.tensor(((df[cols] - train_mean) / train_std).values)",
        explains=(
            "init-loss-mismatch", "lr-too-high", "exploding-gradients", "loss-divergence", "lr-too-low", "loss-plateau",
            "cannot-overfit-batch",
        ),
    ),
    Code(
        code="unnormalized-targets",
        title="Regression targets are orders of magnitude away from unit scale",
        severity="warning",
        stage=BAD_DATA,
        what="Measures regression targets' scale at the loss.",
        why=(
            "A regression loss on targets of scale 1e5 produces gradients of scale 1e5: the learning rate that "
            "works for the weights is wrong for the output layer."),
        hypotheses=(
            Hypothesis("targets in raw units (prices, counts, metres)", "print target mean/std"),
        ),
        next_step="Standardize targets (and un-standardize predictions for reporting).",
        bad="loss = F.mse_loss(pred, price)",
        good="loss = F.mse_loss(pred, (price - mu) / sigma)",
        explains=(
            "init-loss-mismatch", "lr-too-high", "exploding-gradients", "loss-divergence",
            # outputs at unit scale must grow to the targets' scale: at a usual rate that looks like a rate too
            # low, and the loss plateaus far above what a scaled target reaches
            "lr-too-low", "loss-plateau", "slow-convergence",
        ),
    ),
    Code(
        code="class-imbalance",
        title="One class dominates the labels",
        severity="warning",
        stage=BAD_DATA,
        what="Counts labels per class in the batches seen.",
        why="A model can reach a low loss by always predicting the majority class.",
        hypotheses=(
            Hypothesis("the dataset is imbalanced", "print the label histogram"),
        ),
        next_step="Use class weights, resampling, or a metric that sees the minority class.",
        bad="loss = F.cross_entropy(out, y)",
        good="loss = F.cross_entropy(out, y, weight=class_weights)",
    ),
    Code(
        code="split-overlap",
        title="Train and validation share samples",
        severity="error",
        stage=MECHANISM,
        what="Detects identical samples in two splits.",
        why="Overlapping splits make validation an optimistic copy of training.",
        hypotheses=(
            Hypothesis(
                cause="duplicates in the raw data or a split after augmentation",
                check="hash samples and intersect the splits",
            ),
        ),
        next_step="Deduplicate before splitting; split by entity (user, patient, scene).",
        bad="train, val = random_split(augmented, [0.8, 0.2])",
        good="train, val = random_split(raw, [0.8, 0.2]); train = augment(train)",
        planned="issue 15 (`traindoctor data`: duplicates and shared group keys across splits)",
    ),
    Code(
        code="test-fit-leakage",
        title="A preprocessing step is fit on test or validation data",
        severity="error",
        stage=MECHANISM,
        what="Detects fit / fit_transform called on evaluation data.",
        why="Statistics learned from the test set leak it into training; reported scores are optimistic.",
        hypotheses=(
            Hypothesis("the scaler is refit on the test split", "grep for fit_transform(X_test"),
        ),
        next_step="Fit on the training split; only transform the others.",
        bad="X_test = scaler.fit_transform(X_test)",
        good="X_test = scaler.transform(X_test)",
    ),
    Code(
        code="shuffled-time-split",
        title="Time-series data split at random",
        severity="warning",
        stage=MECHANISM,
        what="Detects random (shuffled) splits on temporally ordered data.",
        why="Random splits leak future information into training and give optimistic scores.",
        hypotheses=(
            Hypothesis("train_test_split with shuffle=True on time-ordered rows", "check the split's time ranges"),
        ),
        next_step="Split by time: the first part trains, the last part tests.",
        bad="train_test_split(X, y, shuffle=True)",
        good="train_test_split(X, y, shuffle=False)",
    ),
)
