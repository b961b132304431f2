"""Sweeps: conclusions drawn from runs x seeds (the seeds' Part 4: paired seeds, within-(group, seed)
z-scores, a t-statistic across seeds, confounders)."""

from ..hypothesis import Hypothesis
from . import Code, BAD_DATA, MISMATCH

AREA = "sweeps"

CODES = (
    Code(
        code="confounded-sweep",
        title="Two parameters vary together: their effects cannot be told apart",
        severity="warning",
        stage=BAD_DATA,
        what=("Detects, within one group of runs, two varied parameters whose values predict each other "
              "(Cramér's V of their runs' contingency table at 0.5 or more): e.g. every lr=1e-3 run also used "
              "batch_size=64 and every lr=1e-4 run batch_size=256."),
        why=("A difference between the values of one parameter is then equally a difference between the values "
             "of the other; whichever is named the cause is a guess. A full grid (every combination run) has no "
             "such problem."),
        hypotheses=(
            Hypothesis(cause="the second parameter was changed on purpose together with the first (a scaling rule, "
                             "a new code version between batches of runs)",
                       check="rerun one value of the first parameter with the other value of the second, on the "
                             "same seeds: an effect that follows the second parameter is not the first's"),
            Hypothesis(cause="runs of two sweeps were mixed in one group (a fill sweep, a changed default)",
                       check="split the runs by creation date or commit and analyse each part alone",
                       kind="subtle"),
        ),
        next_step="Vary one parameter per sweep (all else equal), or run the full grid of both.",
        bad="for seed in 1 2 3 4; do train --seed=$seed --lr=1e-3 --bs=64; train --seed=$seed --lr=1e-4 --bs=256; done",
        good="for seed in 1 2 3 4; do for lr in 1e-3 1e-4; do train --seed=$seed --lr=$lr --bs=64; done; done",
        explains=("reliable-effect", "lucky-seed"),
    ),
    Code(
        code="unreplicated",
        title="Too few seeds to tell an effect from seed variance",
        severity="warning",
        stage=BAD_DATA,
        what=("Detects a swept parameter whose values were run on fewer than 4 shared seeds: with one seed there "
              "is no t-statistic at all; with 2-3 a |t| above 2 arises by chance in 18-30% of comparisons of "
              "values that do not matter (the t distribution with n-1 degrees of freedom)."),
        why=("Seed variance alone makes the same configuration look like several (Henderson et al. 2018, "
             "'Deep RL that matters'): a single run per value answers nothing about the parameter."),
        hypotheses=(
            Hypothesis(cause="the differences between values are seed variance",
                       check="rerun the best and the runner-up value on 3 more seeds shared by both: a real "
                             "difference keeps its sign on every seed"),
            Hypothesis(cause="the effect is real and large enough to show on one seed", kind="null",
                       check="the same reruns: an effect much larger than the seed-to-seed spread survives them"),
        ),
        next_step="Run every value on the same 4 or more seeds, then read the t-statistic.",
        bad="train --lr=1e-3 --seed=0; train --lr=3e-4 --seed=0   # one run each",
        good="for seed in 0 1 2 3; do train --lr=1e-3 --seed=$seed; train --lr=3e-4 --seed=$seed; done",
        explains=("lucky-seed",),
    ),
    Code(
        code="lucky-seed",
        title="The best value's lead comes from one seed",
        severity="warning",
        stage=MISMATCH,
        what=("Detects a best value (by mean metric) whose lead over the other values is not reliable across seeds "
              "(|t| < 2 on the paired per-seed differences, 3 or more seeds) because one seed carries more than half "
              "of it: that seed's difference is an outlier against the run-to-run noise of the other seeds (beyond "
              "what the t distribution allows at a 1% chance), and the lead is at least half that noise."),
        why=("'A value with SI_mean=20 but t_stat=0.5 is a lucky seed' (the seeds, Part 4): the mean rewards one "
             "good draw, and the configuration adopted on its strength will not reproduce."),
        hypotheses=(
            Hypothesis(cause="seed variance: one seed happened to do well with this value",
                       check="rerun the value and the runner-up on 4 new seeds: the lead vanishes or changes sign"),
            Hypothesis(cause="the value helps only in some regime that one seed reached (an unstable but better "
                             "optimum)", kind="subtle",
                       check="look at that seed's curve: a different trajectory (a late drop, a spike) marks a "
                             "regime change; more seeds give its frequency"),
        ),
        next_step="Do not adopt the value yet: add seeds shared by all values and read the t-statistic.",
        bad="best = runs.groupby('lr')['val_acc'].mean().idxmax()   # one lucky seed decides",
        good="t = paired t over seeds of (acc[lr] - mean acc of other lrs); adopt only with |t| > 2 on 4+ seeds",
    ),
    Code(
        code="reliable-effect",
        title="A parameter value is reliably better or worse across seeds",
        severity="info",
        stage=MISMATCH,
        what=("Notes a value whose paired per-seed differences (its metric minus the mean of the other values on "
              "the same seed) have |t| of 2 or more over 4 or more seeds, or a numeric parameter whose per-seed "
              "slopes (a dose-response trend) do."),
        why=("Consistency across seeds, not the size of the mean, separates an effect from a lucky draw; even so "
             "|t| > 2 fires by chance on 14% of null comparisons with 4 seeds (7% with 8), so a surprising effect "
             "deserves a replication."),
        hypotheses=(
            Hypothesis(cause="the parameter changes the metric in the direction shown",
                       check="replicate on 4 new seeds: the sign holds on most of them"),
            Hypothesis(cause="a chance |t| > 2 among many compared values (multiple comparisons)", kind="null",
                       check="count the values compared: with k values about 0.14k such calls arise by chance "
                             "with 4 seeds; replicate the surprising one"),
        ),
        next_step="Replicate the surprising effects on new seeds; adopt the reliable ones.",
    ),
)
