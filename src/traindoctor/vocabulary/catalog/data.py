"""The data: its scale, labels and splits."""

from ..hypothesis import Hypothesis
from . import Code, BAD_DATA, GAP, MECHANISM

AREA = "data"

CODES = (
    Code(
        code="labels-decoupled",
        title="The targets do not follow the inputs",
        severity="error",
        stage=BAD_DATA,
        what=(
            "An experiment on a copy: fitted on some recorded batches, the model gains nothing on a batch left out "
            "through its real inputs — its loss falls no further than with the inputs shuffled across samples — "
            "while the same fit carries over a control relation (the batches' own targets dealt by a function of "
            "the inputs), so the experiment could have seen one. The same test is asked of each component of a "
            "target row of a few values (a keypoint's x and y, a box's four numbers) moved alone, when the whole "
            "pairing passes; and it runs while the loss learns whenever the trained model's loss does not use the "
            "pairing (as a whole or in one component): a loss falls as the model learns the targets' mean."),
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
                cause="an augmentation moves the inputs and not the targets given in their coordinates (an image "
                      "mirrored, its keypoints' or boxes' x left as it was)",
                check="draw the augmented input with its target on it: the keypoint or box sits on the object",
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
        code="targets-displaced",
        title="Dense targets do not sit where their inputs are",
        severity="error",
        stage=BAD_DATA,
        what=(
            "On the recorded batches whose targets share the input's grid (a mask, a depth map, a heatmap, a clean "
            "image, a tag per time step): each sample's target is fitted by a tiny local model of its own input "
            "(its values in a 3-wide neighbourhood, least squares per sample) as given and flipped, turned half a "
            "turn, transposed or shifted by a few positions. An error when, among the samples the input explains "
            "at all, a clear share is fitted markedly better moved than as given (a target in place is fitted "
            "best as given). When one transform fits nearly every sample it may be the task (predict the mirror "
            "image): that is an error only while the loss does not learn, and never for a shift. A point target (a keypoint, "
            "a landmark, a box corner as (x, y) pairs) names a position of the input image, where the thing located "
            "looks alike from sample to sample: the image is read in a small patch at each target as given and flipped "
            "or turned, and targets that sit on content alike across samples only once the image is moved back are "
            "displaced by the same rules."),
        why=(
            "A dense target is a function of the input at the same location. A random flip, rotation or crop "
            "drawn for the image and not for the mask (or drawn twice: two transform calls, two coins), or a mask "
            "read with its axes swapped, pairs each position with another position's label: the loss is computed, "
            "falls a little where the scene is symmetric, and the model learns a blurred, averaged answer."),
        hypotheses=(
            Hypothesis("a random flip, rotation or crop is applied to the input and not to the target, or drawn "
                       "separately for each",
                       "draw the random parameters once and apply them to both; plot one (input, target) pair "
                       "overlaid: the target's edges fall on the input's"),
            Hypothesis(
                cause="the target is read with its axes swapped (an (x, y) array, PIL's (W, H) against numpy's "
                      "(H, W)) or cropped at another offset",
                check="print input.shape and target.shape from the Dataset and overlay one pair",
                kind="subtle",
            ),
            Hypothesis(
                cause="the task maps each position to another on purpose (predict the mirror image)",
                check="the same transform fits every sample and the loss learns: nothing to fix",
                kind="null",
            ),
        ),
        next_step="Apply every spatial transform to the input and its target together, with one random draw.",
        bad="if random.random() < 0.5: image = image.flip(-1)\nif random.random() < 0.5: mask = mask.flip(-1)",
        good="if random.random() < 0.5: image, mask = image.flip(-1), mask.flip(-1)",
        explains=("loss-plateau", "underfitting", "slow-convergence", "cannot-overfit-batch", "labels-decoupled"),
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
            "cannot-overfit-batch", "labels-decoupled",
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
            # a term in raw units beside a unit-scale one: the imbalance is the scale's
            "loss-imbalance",
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
        what=(
            "`traindoctor data`: hashes every row of each split and counts the evaluation rows found, identical, in "
            "training (more than rows agreeing by chance would); and compares the group keys (episode, scene, "
            "patient: named with --group/--episode or by the column's name) of the splits."),
        why=(
            "Overlapping splits make validation an optimistic copy of training: a memorised sample, or another frame "
            "of the same episode, scores well without any generalisation."),
        hypotheses=(
            Hypothesis(
                cause="duplicates in the raw data or a split after augmentation",
                check="hash samples and intersect the splits",
            ),
            Hypothesis(
                cause="a random split of rows where samples come in groups (frames of an episode, visits of a patient)",
                check="count the group keys shared by the splits",
            ),
            Hypothesis(
                cause="the evaluation split is meant to repeat training rows (a sanity check set)",
                check="confirm with whoever made the split",
                kind="null",
            ),
        ),
        next_step="Deduplicate before splitting; split by entity (user, patient, scene).",
        bad="train, val = random_split(augmented, [0.8, 0.2])",
        good="train, val = random_split(raw, [0.8, 0.2]); train = augment(train)",
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
        what=(
            "lint: train_test_split with shuffle on time-ordered rows. `traindoctor data`: the evaluation times lie "
            "inside the training time range and are distributed alike, while rows close in time have alike targets "
            "(a series, not independent rows)."),
        why="Random splits leak future information into training and give optimistic scores.",
        hypotheses=(
            Hypothesis("train_test_split with shuffle=True on time-ordered rows", "check the split's time ranges"),
            Hypothesis(
                cause="the rows are independent samples that merely carry a timestamp",
                check="compare a model's score on a random split with its score on a split by time",
                kind="null",
            ),
        ),
        next_step="Split by time: the first part trains, the last part tests.",
        bad="train_test_split(X, y, shuffle=True)",
        good="train_test_split(X, y, shuffle=False)",
    ),
    Code(
        code="constant-feature",
        title="A dimension never changes",
        severity="warning",  # info when every such dimension is exactly constant (see what)
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: per dimension over every training row, the minimum equals the maximum (info: no "
            "information, and common scalers guard a zero std), or the standard deviation is below 1e-6 of the "
            "values' magnitude (warning: variation at float rounding, which standardising blows up to unit scale)."),
        why=(
            "A constant dimension carries no information, and standardising it divides by a zero (or rounding-noise) "
            "standard deviation: NaN or noise blown up to unit scale enters the model. In robot data a constant "
            "action dimension (a gripper never used) is also a head the loss cannot train."),
        hypotheses=(
            Hypothesis("a column filled by a default (a sensor not connected, a field never written)",
                       "print the column's distinct values in the raw source"),
            Hypothesis("the dimension is constant in this dataset only (one site, one robot)",
                       "check whether other data varies in it", kind="subtle"),
            Hypothesis("the dimension is constant by design and dropped or guarded downstream",
                       "check the normaliser clamps std (e.g. std + eps)", kind="null"),
        ),
        next_step="Drop the dimension, or guard the normalisation (std.clamp_min(eps)) if it must stay.",
        bad="x = (x - x.mean(0)) / x.std(0)   # a constant column: 0 / 0",
        good="keep = x.std(0) > 0\nx = (x[:, keep] - x[:, keep].mean(0)) / x[:, keep].std(0)",
        explains=("nonfinite-input",),
    ),
    Code(
        code="data-outliers",
        title="A few values lie far outside the rest and dominate the variance",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: per dimension, values at a robust z-score (distance from the median in units of "
            "1.4826 MAD) of 10 or more, on at most 0.1% of the rows, carrying at least 10% of the squared deviations. "
            "Many such values make a heavy tail, not outliers, and are left alone."),
        why=(
            "A handful of extreme values (a joint angle of 50 among values within ±3.14, a price typed in cents) "
            "dominate an MSE and the statistics used to normalise: the model spends its capacity on them and "
            "every other value is squeezed near zero after standardisation."),
        hypotheses=(
            Hypothesis("a unit or encoding error on a few rows (degrees among radians, cents among dollars)",
                       "print the rows holding the extreme values and their source"),
            Hypothesis("corrupted records (a sensor glitch, a parsing error)",
                       "plot the dimension over time or by source file around the extremes", kind="subtle"),
            Hypothesis("rare but real extreme events the model must learn",
                       "check the extremes against the physical range of the quantity", kind="null"),
        ),
        next_step="Look at the rows with the extreme values; fix or drop the broken ones, or clip at a physical limit.",
        bad="actions = np.load('actions.npy')   # 5 rows of 50.0 among angles in [-3.14, 3.14]",
        good="actions = np.load('actions.npy')\nok = np.abs(actions).max(1) <= np.pi\nactions = actions[ok]",
        explains=("loss-spikes", "unnormalized-inputs", "unnormalized-targets"),
    ),
    Code(
        code="sentinel-values",
        title="A spike at one value far from the rest: a code for missing, or padding",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: per dimension, one value holds at least 0.5% of the sampled rows while the other "
            "values (at least 20 distinct) lie 5 robust deviations away from it or more — or it is negative in a "
            "quantity otherwise never negative. Found from the data's own distribution, whatever the code."),
        why=(
            "Codes for 'unknown' (-1, -999, 9999) and zero padding are read by the model as real measurements: a "
            "-999 among ages is a huge value that bends a linear fit, and padded steps teach a trajectory model to "
            "jump to the origin."),
        hypotheses=(
            Hypothesis("missing values encoded as a number by the exporter", "count the value per source file or column"),
            Hypothesis("sequences padded to a common length without a mask",
                       "check whether the value sits at the end of sequences", kind="subtle"),
            Hypothesis("a real, frequent value (a physical rest position)",
                       "check the value against the quantity's meaning", kind="null"),
        ),
        next_step="Turn the code into a missing value (and a mask or an indicator feature) before normalising.",
        bad="df = pd.read_csv('patients.csv')   # age -999 when unknown",
        good="df = pd.read_csv('patients.csv', na_values={'age': [-999]})\ndf['age_known'] = df.age.notna()",
        explains=("data-outliers", "unnormalized-inputs"),
    ),
    Code(
        code="missing-values",
        title="Missing or infinite values in the data",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: counts NaN, empty and infinite values per column of every split, and text found "
            "in a numeric column (a '?' or 'n/a' of a CSV)."),
        why="A single NaN in a batch makes the loss NaN and, after one step, every weight.",
        hypotheses=(
            Hypothesis("gaps in the raw data that the pipeline does not impute", "count NaN per column after preprocessing"),
            Hypothesis("text markers for missing values that the reader did not recognise",
                       "look at the non-numeric values listed in the evidence", kind="subtle"),
        ),
        next_step="Impute (with training statistics) or drop the rows, and add an indicator where missingness is informative.",
        bad="x = torch.tensor(df[cols].values)   # NaN in 3% of 'income'",
        good="df['income'] = df.income.fillna(train.income.median())",
        explains=("nonfinite-input",),
    ),
    Code(
        code="target-scale-mismatch",
        title="Target dimensions differ by orders of magnitude in scale",
        severity="warning",
        stage=BAD_DATA,
        what=("`traindoctor data`: the ratio of the largest to the smallest standard deviation among target dimensions. "
              "When one of the two holds integer codes (action tokens, bins) it is an info: classes have no scale."),
        why=(
            "Under an unweighted MSE a dimension 100x smaller contributes errors 10^4 times lighter: the model "
            "learns the large one (position in metres) and ignores the small one (heading in radians, a gripper)."),
        hypotheses=(
            Hypothesis("targets in mixed units, not standardised per dimension", "print each target dimension's std"),
            Hypothesis("the loss weights the dimensions on purpose", "check the loss for per-dimension weights",
                       kind="null"),
        ),
        next_step="Standardise each target dimension with training statistics, or weight the loss per dimension.",
        bad="loss = F.mse_loss(pred, torch.cat([xy_metres, heading_rad], 1))",
        good="loss = F.mse_loss(pred, (target - mu) / sigma)   # mu, sigma per dimension",
        explains=("loss-plateau",),
    ),
    Code(
        code="rare-classes",
        title="Classes too rare to learn or to measure",
        severity="info",
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: classes of the target with fewer than 10 training samples, and classes of the "
            "evaluation splits that never occur in training."),
        why=(
            "A class seen a handful of times is not learned, and its evaluation score rests on a few samples; a "
            "class absent from training cannot be predicted at all."),
        hypotheses=(
            Hypothesis("a long-tailed label distribution", "print the label histogram of each split"),
            Hypothesis("label typos or encodings that split one class in two ('car' and 'Car')",
                       "list the rare classes' names next to the frequent ones", kind="subtle"),
        ),
        next_step="Merge, relabel or collect more of the rare classes; stratify the split so every class is in training.",
        bad="train, val = train_test_split(df, test_size=0.2)",
        good="train, val = train_test_split(df, test_size=0.2, stratify=df.label)",
    ),
    Code(
        code="duplicate-rows",
        title="Many rows repeat another row exactly",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: hashes every row of the training split and counts repeats; judged only when rows "
            "would rarely agree by chance (the product over columns of the chance that two rows agree)."),
        why=(
            "Duplicated rows weigh some samples several times over and, split at random, end up in training and "
            "evaluation alike."),
        hypotheses=(
            Hypothesis("the same file or shard read twice, or an append run twice", "count rows per source file"),
            Hypothesis("oversampling applied before the split", "check the pipeline for resampling", kind="subtle"),
        ),
        next_step="Deduplicate (df.drop_duplicates()) before splitting; oversample only the training split.",
        bad="df = pd.concat([pd.read_csv(f) for f in files + files])",
        good="df = pd.concat([pd.read_csv(f) for f in sorted(set(files))]).drop_duplicates()",
        explains=("split-overlap",),
    ),
    Code(
        code="near-duplicates",
        title="Many rows repeat another row once numbers are rounded",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: hashes every row of the training split again with each number rounded to 14 bits "
            "of mantissa (about 4 significant digits) and row ids left out, in one pass with a bounded hash sample; "
            "warns when the repeats exceed the exact ones by 1% of the rows and are 10x what rounded rows agree "
            "by chance. Across splits the same hashes give `split-overlap`."),
        why=(
            "A copy that went through float32, a CSV printed with fewer digits, or a re-export under a new id is "
            "the same sample: it weighs twice and, split at random, is trained on and evaluated."),
        hypotheses=(
            Hypothesis("the same records exported twice with another precision or new row ids",
                       "round the numeric columns and drop_duplicates(); compare the ids of the pairs"),
            Hypothesis("augmentation with tiny noise applied before the split", "check the pipeline for jitter "
                       "applied to the whole table", kind="subtle"),
            Hypothesis("a quantity with few distinct values measured many times (a sensor at rest)",
                       "look at the repeated rows: equal readings of different samples", kind="null"),
        ),
        next_step="Deduplicate on rounded values (and without row ids) before splitting.",
        bad="df = pd.concat([export_2023, export_2023_float32])",
        good="df = df.loc[~df[cols].round(4).duplicated()]",
        explains=("split-overlap", "duplicate-rows"),
    ),
    Code(
        code="train-eval-shift",
        title="Features are distributed differently in evaluation than in training",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: a two-sample Kolmogorov-Smirnov test per dimension between training and each "
            "evaluation split, Benjamini-Hochberg corrected over dimensions, reported with its effect size (the KS "
            "statistic D and the mean shift in training standard deviations); judged on large effects only."),
        why=(
            "A model is evaluated outside what it was trained on: validation scores mislead, and a normalisation "
            "fit on one split leaves the other off-centre."),
        hypotheses=(
            Hypothesis("the splits come from different sources, periods or preprocessing",
                       "compare how each split was produced, and its summary statistics"),
            Hypothesis("each split was normalised with its own statistics",
                       "compare the raw (pre-normalisation) columns of the splits", kind="subtle"),
            Hypothesis("a deliberate out-of-distribution evaluation", "confirm the evaluation's purpose", kind="null"),
        ),
        next_step="Check how the splits were made; split from one pool at random (or by group) unless the shift is the point.",
        bad="train = logs_2023; val = logs_2024   # units changed in 2024",
        good="train, val = split_by_episode(logs_2023 + logs_2024)",
    ),
    Code(
        code="feature-leakage",
        title="One feature alone predicts the target almost exactly",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: for each feature, a binned predictor (up to 64 quantile bins; the majority class or "
            "the mean target per bin) fitted on half of the sampled rows and judged on the other half; it removes "
            "99% or more of the error of predicting the majority class or the mean (R² >= 0.99) — in a time series, "
            "also half the error of the target's previous value. A text column of mostly distinct identifiers (file "
            "names, keys) is also read without its numbers (`pos_0417.png` -> `pos_#.png`). Info when the target is "
            "an action (a scripted policy may follow one observation)."),
        why=(
            "A feature that gives the answer away (the label encoded in an id or a file path, a future position, a "
            "statistic computed with the target) makes training look easy and fails at inference, where it does "
            "not exist."),
        hypotheses=(
            Hypothesis("the feature is derived from the target or recorded after it",
                       "check when and how the feature is produced relative to the label"),
            Hypothesis("rows are ordered by label and the feature is a row index or timestamp",
                       "shuffle the rows and recompute the feature", kind="subtle"),
            Hypothesis("the task is genuinely easy from this feature", "confirm the feature exists at inference time",
                       kind="null"),
        ),
        next_step="Remove the feature, or prove it is available at inference time with the same meaning.",
        bad="X = df.drop(columns=['label'])   # 'label_name' still in X",
        good="X = df.drop(columns=['label', 'label_name'])",
        explains=("label-leakage",),
    ),
    Code(
        code="label-noise",
        title="Many labels disagree with what the rest of the data says about their samples",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data`: with a model's out-of-sample class probabilities given (`--probs`), confident "
            "learning (cleanlab's find_label_issues, or the same confident joint computed by traindoctor when "
            "cleanlab is not installed) counts the rows whose given label the model confidently contradicts. "
            "Without probabilities, a cheap estimate labelled as such: on standardised numeric features, a row whose "
            "10 nearest neighbours carry, at 9 or more, one other label. Judged on at most 5,000 sampled rows, "
            "deterministically; fires when 3% or more of them (and at least 5) are suspect."),
        why=(
            "Wrong labels cap the accuracy a model can reach, make it memorise noise late in training (the "
            "validation loss turns up) and corrupt the evaluation: the seeds' first data check after the statistics "
            "is to look at the examples a model gets most wrong."),
        hypotheses=(
            Hypothesis("labels were flipped or mis-keyed by annotators or a join on the wrong key",
                       "print the suspect rows (evidence) with their labels and look at the raw samples"),
            Hypothesis("two classes are genuinely confusable in these features (a hard boundary, not noise)",
                       "check whether the suspects concentrate on one pair of classes near their boundary",
                       kind="subtle"),
            Hypothesis("the features used by the estimate do not describe the samples (raw pixels, ids)",
                       "give out-of-sample probabilities from a real model (--probs)", kind="null"),
        ),
        next_step="Review the suspect rows; relabel or drop confirmed errors, or train with a noise-robust loss.",
        bad="df['label'] = df['label_raw'].map(names)   # a code missing from names becomes another class",
        good="assert df['label_raw'].isin(names).all()\ndf['label'] = df['label_raw'].map(names)",
        explains=("overfitting", "underfitting"),
    ),
    Code(
        code="slice-underperforms",
        title="The aggregate metric hides a slice where the model does much worse",
        severity="warning",
        stage=GAP,
        what=(
            "`traindoctor data --slice COL`: the metric (a per-row metric column, or accuracy / absolute error "
            "from a prediction and the target) per value of each named categorical column, next to the aggregate. A "
            "slice of at least 30 rows is a finding when it is worse than the rest by a Welch t of 4 or more (a "
            "Bonferroni-sized bar over the slices) and by at least a quarter of the aggregate's error; smaller "
            "slices are listed, never judged."),
        why=(
            "A model is used on every slice, not on the average: the seeds' driving evaluations report ADE/FDE "
            "by maneuver, speed and agent type because an average dominated by lane-following hides a failure on "
            "the rare turns and pedestrians that matter."),
        hypotheses=(
            Hypothesis("the slice is rare in training (its samples under-represented)",
                       "count the slice's rows in the training split"),
            Hypothesis("the slice is harder by nature (longer horizons, faster agents)",
                       "compare with a simple baseline's error on the same slice", kind="subtle"),
            Hypothesis("the slice's labels or inputs are of lower quality",
                       "look at the slice's worst rows", kind="subtle"),
        ),
        next_step="Report the metric per slice; rebalance or augment the slice, and track it as its own number.",
        bad="print(df['ade'].mean())",
        good="print(df.groupby('maneuver')['ade'].agg(['mean', 'count']))",
    ),
    Code(
        code="cross-sample-leakage",
        title="Poisoning one sample reaches the outputs of other samples",
        severity="error",
        stage=MECHANISM,
        what=(
            "`traindoctor.trace_leakage(model_or_pipeline, batch)`: on copies, one sample's float inputs are set "
            "to NaN, and separately to a large finite sentinel; the outputs (or per-sample loss terms) of the OTHER "
            "samples are compared with the clean run's. An output that becomes non-finite or moves by more than "
            "1e-5 of the output scale is a leak; a clean batch run again after the poisoned one and giving "
            "other outputs is state kept across calls (a cache)."),
        why=(
            "A sample's prediction must depend on that sample only: statistics over the batch (batch-stat "
            "normalisation in the pipeline, a BatchNorm in training mode at evaluation) make predictions change "
            "with the batch's company, one NaN row poisons a whole batch, and a cache keyed on the wrong thing "
            "serves one sample's values to another. The seeds' trick: poison one sample and watch where the NaN "
            "goes."),
        hypotheses=(
            Hypothesis("the pipeline normalises with statistics of the current batch",
                       "fit the normalisation on the training split once and apply it per sample"),
            Hypothesis("a BatchNorm in training mode at evaluation or inference",
                       "call model.eval() before evaluating", kind="subtle"),
            Hypothesis("a cache or memo keyed on something other than the sample (position, batch size, a shape)",
                       "key the cache on the sample's id, or clear it between batches", kind="subtle"),
        ),
        next_step="Find the operation that reduces over the batch (or keeps state) and make it per sample.",
        bad="x = (x - x.mean(0)) / x.std(0)   # statistics of this batch",
        good="x = (x - train_mean) / train_std   # fitted once on training data",
        explains=("batch-mixing", "nonfinite-input", "nonfinite-forward", "nondeterministic-eval"),
    ),
)
