"""Data conventions of a domain: driving logs (units, frames, timestamps, lags, kinematics) and robot
demonstrations (action lag, bins, noise schedules, multimodal demonstrations). Emitted by `traindoctor
data --domain driving|robotics`."""

from ..hypothesis import Hypothesis
from . import Code, BAD_DATA, MECHANISM

AREA = "data-domains"

CODES = (
    Code(
        code="position-units",
        title="Positions are not in metres: the motion they imply is beyond a road vehicle",
        severity="warning",
        stage=MECHANISM,
        what=(
            "`traindoctor data --domain driving`: speeds and accelerations from the positions over 0.5 s windows "
            "within episodes; read as metres, the 95th percentile of speed past 70 m/s or the 99th of acceleration "
            "past 15 m/s² (1.5 g) is not a car. Names the smallest rescaling (ft, cm, mm) that makes both plausible. "
            "A lane-width column (a name holding lane_width) read as metres: a median outside 2.5-5 m is not a road's "
            "lane; the rescaling that brings it there names the unit."),
        why=(
            "A model trained on centimetres and run on metres (or mixed sources) predicts trajectories 100x off; "
            "losses, thresholds and normalisations tuned for one unit are wrong for the other."),
        hypotheses=(
            Hypothesis("a source logs centimetres or millimetres (a simulator, a map API)",
                       "compare a known distance (a lane width of about 3.5 m) in the data"),
            Hypothesis("positions in feet from a US dataset", "read the dataset's documentation for its units"),
            Hypothesis("the timestamps are in another unit than assumed (ms read as s)", "print the median time step",
                       kind="subtle"),
        ),
        next_step="Convert every source to metres (and seconds) when loading, and assert plausible speeds there.",
        bad="x = log['x']            # centimetres in this source",
        good="x = log['x'] / 100.0    # metres, as every other source",
        explains=("kinematic-infeasible", "data-outliers", "unnormalized-inputs", "unnormalized-targets"),
    ),
    Code(
        code="kinematic-infeasible",
        title="Some steps move beyond what a vehicle can",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data --domain driving`: counts the steps whose speed (past 70 m/s), acceleration (past "
            "15 m/s², braking and cornering together) or jerk (past 50 m/s³) exceeds a road vehicle's, with "
            "derivatives over 0.5 s windows (position noise does not count), in data whose units are plausible."),
        why=(
            "A teleport (a tracking identity switch, a frame from another log, a GPS jump) is a target no model "
            "should learn; under an MSE one such step weighs as much as hundreds of ordinary ones."),
        hypotheses=(
            Hypothesis("track identities switched between two agents", "plot the episode around the step"),
            Hypothesis("logs concatenated without a new episode id", "check whether the step is at a file boundary"),
            Hypothesis("a localisation glitch (GPS jump)", "compare with the other sensors at that time", kind="subtle"),
        ),
        next_step="Split or drop the episodes at infeasible steps, or smooth the track, before training.",
        bad="df = pd.concat([log_a, log_b])            # same episode id",
        good="df = pd.concat([log_a.assign(episode=0), log_b.assign(episode=1)])",
        explains=("data-outliers", "target-lag"),
    ),
    Code(
        code="heading-units",
        title="The heading is in degrees",
        severity="warning",
        stage=MECHANISM,
        what=(
            "`traindoctor data --domain driving`: compares the heading's change with the change of the direction of "
            "motion from the positions (1 unit per radian in radians, 57.3 in degrees), on turning steps of moving "
            "vehicles; without turning, values beyond ±2π within ±360 (and jumps of 360) are degrees."),
        why=(
            "Trigonometry on degrees (cos(90) = -0.45) rotates every frame transform and every velocity wrongly; "
            "a heading loss in degrees is 3,000 times a radian one."),
        hypotheses=(
            Hypothesis("a source logs degrees (many map and GPS formats)", "print the heading's range per source"),
            Hypothesis("a conversion applied twice or not at all", "grep for radians/deg2rad in the loader",
                       kind="subtle"),
        ),
        next_step="Convert the heading to radians when loading (np.deg2rad) and wrap it to [-π, π).",
        bad="dx = v * np.cos(heading)             # degrees",
        good="dx = v * np.cos(np.deg2rad(heading))",
        explains=("data-outliers", "unnormalized-inputs"),
    ),
    Code(
        code="mixed-frames",
        title="Episodes come in two coordinate frames: ego and world",
        severity="warning",
        stage=MECHANISM,
        what=(
            "`traindoctor data --domain driving`: per episode, whether it starts at the origin (within 1 m, or 1% of "
            "its extent: an ego frame) or far from it (a world frame), over every split; warns when each kind holds "
            "5% of the episodes or more."),
        why=(
            "A model trained on ego-centred episodes sees world coordinates (hundreds of metres away, any heading) "
            "as inputs it never learned; mixed in training, the coordinates mean two different things."),
        hypotheses=(
            Hypothesis("the ego transform is applied in one code path (a split, a source) and not another",
                       "print the first position of a few episodes per split and source"),
            Hypothesis("a cache written before the transform was added", "clear the cache and regenerate", kind="subtle"),
        ),
        next_step="Transform every episode into one frame in one place of the loader.",
        bad="if split == 'train': xy = to_ego(xy, pose)",
        good="xy = to_ego(xy, pose)",
        explains=("train-eval-shift", "data-outliers"),
    ),
    Code(
        code="timestamps-disordered",
        title="Time goes back or repeats within episodes",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data --domain driving`: within each episode, in file order, counts the steps whose time "
            "goes back or repeats (0.1% of steps or more; a file shuffled as a whole is not a series and is left "
            "out)."),
        why=(
            "Velocities, lags and sequence models read rows in order: a step back in time makes a velocity of the "
            "wrong sign and a history that is partly future."),
        hypotheses=(
            Hypothesis("logs merged without sorting by time", "sort by (episode, time) and compare"),
            Hypothesis("two sensors' rows interleaved under one episode id", "count rows per (episode, time)"),
        ),
        next_step="Sort by (episode, time) and drop or merge rows that share a timestamp.",
        bad="df = pd.concat(parts)",
        good="df = pd.concat(parts).sort_values(['episode', 'time']).drop_duplicates(['episode', 'time'])",
        explains=("target-lag", "kinematic-infeasible"),
    ),
    Code(
        code="uneven-sampling",
        title="Time steps are uneven: dropped frames or mixed rates",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data --domain driving`: per episode the median time step; steps 25% or more off it on 1% "
            "of steps (a dropped frame doubles a step), or episodes logged at another rate than most."),
        why=(
            "A model that assumes a fixed step reads a doubled step as a doubled speed; a history of 10 steps covers "
            "1 s at 10 Hz and 0.5 s at 20 Hz."),
        hypotheses=(
            Hypothesis("dropped frames in the recording", "histogram the time steps"),
            Hypothesis("sources logged at different rates", "print the median step per source"),
        ),
        next_step="Resample every episode to one rate (interpolate), or give the model the time step.",
        bad="history = df.groupby('episode').tail(10)",
        good="history = resample(df, hz=10).groupby('episode').tail(10)",
    ),
    Code(
        code="target-lag",
        title="The target trajectory is not the future of the history",
        severity="warning",
        stage=MECHANISM,
        what=(
            "`traindoctor data --domain driving`: estimates by how many steps each target leads the vehicle's "
            "state, from the centre of the peak of the cross-correlation of velocities within episodes, per split "
            "(an absolute target against the velocity: its horizon; an offset from the present position against "
            "the accelerations: its window's centre); warns when a target sits at the present or behind it, or "
            "leads by different steps in different splits."),
        why=(
            "A target shifted by an off-by-one in the windowing is the present (or the past): the model learns to "
            "copy its input and reports a low error that forecasts nothing."),
        hypotheses=(
            Hypothesis("an off-by-one slicing history and future", "print the last history step and the first "
                       "target step of one sample: they must differ by one step"),
            Hypothesis("the future is shifted per split differently", "print the estimated lead per split"),
        ),
        next_step="Slice the future from the step after the last history step, identically for every split.",
        bad="future = track[t - horizon + 1:t + 1]",
        good="future = track[t + 1:t + 1 + horizon]",
        explains=("feature-leakage",),
    ),
    Code(
        code="future-feature",
        title="An input feature carries the future",
        severity="warning",
        stage=MECHANISM,
        what=(
            "`traindoctor data`, in data with a time or episode order: for each feature, corr(feature_t, "
            "target_{t+k}) over k = -10..10 within episodes, on the levels and on the changes; warns when the peak "
            "is 0.8 or more, its centre a whole step ahead or later, above the correlation with the target as many "
            "steps back, and above the target's own autocorrelation at that lag (the feature tells the future "
            "better than the present target does). With `--domain driving` also the cross-correlation of its "
            "changes with the changes of the vehicle's x, y, speed and heading over 0.5 s, with the same bars."),
        why=(
            "A feature computed from a later step (a next-speed column, a smoothed track with a centred window, a "
            "future traffic-light state) does not exist at inference: validation looks good and deployment fails."),
        hypotheses=(
            Hypothesis("a feature computed with a shift(-k) or a centred rolling window", "grep the feature pipeline "
                       "for shift(-, center=True and forward differences"),
            Hypothesis("a forecast or label column built after the fact from later rows", "check how the column "
                       "was made and when its value becomes known", kind="subtle"),
            Hypothesis("the feature is a planner's command the vehicle follows (known at inference)",
                       "confirm the feature is available at the time of prediction", kind="null"),
        ),
        next_step="Compute every feature from the present and past only (causal windows).",
        bad="df['speed_next'] = df.groupby('episode').speed.shift(-1)",
        good="df['speed_prev'] = df.groupby('episode').speed.shift(1)",
        explains=("feature-leakage",),
    ),
    Code(
        code="action-lag",
        title="Actions are recorded out of step with the observations they move",
        severity="warning",
        stage=MECHANISM,
        what=(
            "`traindoctor data --domain robotics`: the cross-correlation, within episodes, of the actions' changes "
            "with the observations' changes (as a velocity command or as a position target); warns when it peaks at "
            "another lag than the step the action was taken."),
        why=(
            "An action logged one step late pairs each observation with the previous decision: the policy learns "
            "to react to the past, and at 10 Hz a 50 ms lag mislabels half the data."),
        hypotheses=(
            Hypothesis("observations and actions timestamped by different clocks or threads",
                       "plot one action dimension against the observation it drives"),
            Hypothesis("the action recorded after the step (the achieved, not the commanded, action)",
                       "check what the logger writes at each tick"),
        ),
        next_step="Align actions to observations by their timestamps (shift by the estimated lag) before training.",
        bad="pairs = zip(obs[1:], actions[1:])",
        good="pairs = zip(obs[:-1], actions[:-1])   # the action taken after seeing obs",
    ),
    Code(
        code="bin-coverage",
        title="Discretised actions use few of their bins",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data --domain robotics`: each continuous action dimension cut into 256 uniform bins "
            "between its min and max (or its integer codes), and the bins effectively used (the exponential of the "
            "binned entropy); warns under 10%."),
        why=(
            "Uniform bins over a heavy-tailed range put most actions in a handful of tokens: the policy cannot "
            "express fine motions, and most of the vocabulary is never trained."),
        hypotheses=(
            Hypothesis("a few large actions stretch the range", "print the 1% and 99% percentiles against min and max"),
            Hypothesis("the action is mostly still (small deltas) with rare large moves",
                       "histogram the action on a log scale"),
        ),
        next_step="Put the bin edges at the actions' percentiles (or clip to the 1-99% range before binning).",
        bad="edges = np.linspace(a.min(), a.max(), 257)",
        good="edges = np.quantile(a, np.linspace(0, 1, 257))",
    ),
    Code(
        code="binary-action",
        title="A binary action dimension (a gripper) among continuous ones",
        severity="info",
        stage=BAD_DATA,
        what="`traindoctor data --domain robotics`: action dimensions with exactly two values next to continuous ones.",
        why=(
            "Under a mean-squared error an uncertain open/close is predicted as the mean: a gripper half open. "
            "A classification head (BCE) keeps it a decision."),
        hypotheses=(
            Hypothesis("a gripper open/close command", "confirm the dimension's meaning", kind="null"),
        ),
        next_step="Predict the binary dimension with its own logit and a binary cross-entropy.",
        bad="loss = F.mse_loss(pred, action)",
        good="loss = F.mse_loss(pred[:, :6], action[:, :6]) + F.binary_cross_entropy_with_logits(pred[:, 6], action[:, 6])",
    ),
    Code(
        code="noise-schedule-mismatch",
        title="The diffusion or flow noise schedule does not fit the actions",
        severity="warning",
        stage=MECHANISM,
        what=(
            "`traindoctor data --domain robotics --schedule ...`: the schedule's terminal signal-to-noise ratio "
            "times the actions' variance (at 1e-2 or more the data is not drowned), the actions' scale against the "
            "scale schedules are tuned for (data in [-1, 1] or of unit std: a std beyond 1.5 or under 0.1), and "
            "whether t is clamped away from the end where the network's target divides by zero."),
        why=(
            "A schedule copied from images onto actions with std 2 never drowns the data: training ends where "
            "sampling starts (pure noise) and the sampler drifts; at t = 0 an epsilon target is invisible."),
        hypotheses=(
            Hypothesis("actions not normalised before the diffusion head", "print the actions' std per dimension"),
            Hypothesis("an image schedule reused with fewer steps", "compute alpha_bar at the last step"),
        ),
        next_step="Normalise actions to [-1, 1] (or unit std) and use a zero-terminal-SNR schedule; clamp t.",
        bad="scheduler = DDPMScheduler(num_train_timesteps=100, beta_schedule='linear')   # actions std 2",
        good="scheduler = DDPMScheduler(100, beta_schedule='squaredcos_cap_v2'); actions = normalise(actions)",
        explains=("unnormalized-targets",),
    ),
    Code(
        code="bimodal-actions",
        title="Demonstrations disagree for the same observation",
        severity="warning",
        stage=BAD_DATA,
        what=(
            "`traindoctor data --domain robotics`: for sampled observations, the actions at the 20 nearest "
            "observations of other episodes; two distant clusters of actions (4 pooled deviations apart, each 20% or "
            "more) whose membership the observation does not predict, on 10% of the neighbourhoods or more."),
        why=(
            "A regression loss averages the modes: passing an obstacle left or right becomes driving into it. "
            "The data needs a multimodal policy (a mixture, diffusion, tokens) or a disambiguating observation."),
        hypotheses=(
            Hypothesis("demonstrators solve the task in different ways", "plot the demonstrations from one start"),
            Hypothesis("the observation lacks what decided the action (history, a goal)",
                       "add the last actions or the goal to the observation", kind="subtle"),
        ),
        next_step="Use a multimodal policy head (mixture, diffusion, discretised actions), or make the "
                  "observation disambiguate.",
        bad="loss = F.mse_loss(policy(obs), action)",
        good="loss = diffusion_loss(policy, obs, action)   # or a mixture density head",
        explains=("loss-plateau", "underfitting"),
    ),
)
