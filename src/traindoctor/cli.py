"""The `traindoctor` command line."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from .version import __version__
from .vocabulary.catalog import CATALOG
from .curves.readers import STEP_COLUMNS
from .vocabulary.report import Report
from .render import DEFAULT_FORMAT, RENDERERS
from .render.output import folder_problem, output_problem, write, write_figures

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Tells you why your PyTorch model is not learning, with measurements.\n\n"
    "Exit status: 0 no error found, 1 at least one error-severity finding, 2 usage or internal error, or "
    "could not check (nothing observed, monitor disabled, most probes failed: the headline says why).",
)


# the choices, the default and the help of every command's --format come from the registry
Format = Enum("Format", {name: name for name in RENDERERS}, type=str)
FORMAT_HELP = "; ".join(f"{name} ({r.suffix}): {r.description}" for name, r in RENDERERS.items()) + "."
PLOTS_HELP = "Also save the report's figures as PNG files into this directory."
OUTPUT_HELP = "Write the report to FILE instead of stdout."


def _format_option():
    # no default here: an --output named report.json should get JSON without also saying --format json
    return typer.Option(None, "--format", "-f", help=FORMAT_HELP + f" Default: the one --output's suffix names, else "
                        f"{DEFAULT_FORMAT}.", show_default=False)


def _format_name(fmt: Optional[Format], output: Optional[Path]) -> str:
    if fmt is not None:
        return fmt.value
    by_suffix = {r.suffix: name for name, r in RENDERERS.items()}
    return by_suffix.get(output.suffix.lower(), DEFAULT_FORMAT) if output is not None else DEFAULT_FORMAT


def _output_file(path: Optional[Path]) -> Optional[Path]:
    """--output, checked before anything runs; made absolute, since a script run by `run` may change
    the working directory."""
    if path is None:
        return None
    path = path.absolute()
    problem = output_problem(path)
    if problem:
        raise typer.BadParameter(problem)
    return path


def _plots_dir(path: Optional[Path]) -> Optional[Path]:
    """--plots: a directory that exists or can be created, checked before anything runs; absolute."""
    if path is None:
        return None
    path = path.absolute()
    problem = folder_problem(path)
    if problem:
        raise typer.BadParameter(problem)
    return path


def _emit(report: Report, fmt: Optional[Format], output: Optional[Path], plots: Optional[Path] = None) -> None:
    if plots is not None:
        write_figures(report, plots)
    write(report, _format_name(fmt, output), output)
    raise typer.Exit(report.exit_code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"traindoctor {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version.")) -> None:
    pass


@app.command(
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
    epilog="Examples:\n\n  traindoctor run train.py --lr 3e-4\n\n"
    "  traindoctor run --max-steps 0 --format json --output report.json train.py\n\n"
    "Options for traindoctor go before SCRIPT; everything after SCRIPT is passed to it.",
)
def run(
    script: str = typer.Argument(..., help="The training script, run as `python SCRIPT ARGS` would run it."),
    args: Optional[List[str]] = typer.Argument(None, help="Arguments passed to the script."),
    max_steps: int = typer.Option(300, "--max-steps", min=0, help="Stop after this many steps of the busiest optimizer (all optimizers together: twice as many; 0: run to completion)."),
    max_seconds: Optional[float] = typer.Option(None, "--max-seconds", min=0, help="Stop after this many seconds."),
    probes: bool = typer.Option(True, "--probes/--no-probes", help="Run the cheap probes (batch independence) after the script stops."),
    experiments: Optional[bool] = typer.Option(
        None, "--experiments/--no-experiments", show_default="when the loss does not learn",
        help="The differential diagnosis: experiments on copies of the trained model and recorded batches "
             "(learning rate x10/x0.1/initial, regularisation off, one batch fitted and carried to another), "
             "50 steps each. By default they run when the loss does not learn."),
    format: Optional[Format] = _format_option(),
    plots: Optional[Path] = typer.Option(None, "--plots", help=PLOTS_HELP, callback=_plots_dir),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP, callback=_output_file),
) -> None:
    """Run a training script under observe-only hooks and diagnose its training.

    Watches the loss, gradients, optimizer steps, learning-rate schedule, train/eval
    modes and what the loss functions receive, without changing the script's results.
    """
    from .run.runner import ScriptNotFound, run_script

    # A document on stdout (json, html, ...) stays whole: the script's own prints go to stderr.
    script_stdout = sys.stderr if RENDERERS[_format_name(format, output)].document and output is None else None
    try:
        report = run_script(script, args or [], max_steps=max_steps, max_seconds=max_seconds,
                            probes=probes, experiments_=experiments, stdout=script_stdout)
    except ScriptNotFound as exc:
        typer.echo(f"traindoctor: {exc}", err=True)
        raise typer.Exit(2)
    section = report.sections["run"]
    try:
        _emit(report, format, output, plots)
    except typer.Exit as done:
        if section["stopped"] == "os-exit" or section["threads_running"]:
            # As python would: os._exit skips interpreter shutdown, and threads a stopped script left running must not hold the process.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(done.exit_code)
        raise


def _load_setup(target: str) -> dict:
    """`path/to/file.py:function` -> the dict that function returns (function defaults to make_setup).

    The user's own errors (importing the file, calling the function) are usage errors: the message
    names the file and function, shows their traceback, and exits 2."""
    import runpy

    from .run.script import user_traceback

    path, _, func = target.partition(":")
    func = func or "make_setup"
    file = Path(path)
    if not file.is_file():
        raise typer.BadParameter(f"{path}: no such file", param_hint="TARGET")
    saved = sys.path[:]
    sys.path.insert(0, str(file.resolve().parent))
    try:
        try:
            namespace = runpy.run_path(str(file), run_name="__traindoctor_checkup__")
        except Exception as exc:
            typer.echo(f"{user_traceback(exc, file)[0]}\ntraindoctor: importing {path} failed: {type(exc).__name__}: {exc}"
                       "\n(the traceback above is your file's; fix it and run checkup again)", err=True)
            raise typer.Exit(2) from None
        if not callable(namespace.get(func)):
            raise typer.BadParameter(f"{path} defines no function {func}(); write one that returns "
                                     "dict(model=..., batch=..., loss_fn=..., optimizer=...)", param_hint="TARGET")
        try:
            setup = namespace[func]()
        except Exception as exc:
            typer.echo(f"{user_traceback(exc, file)[0]}\ntraindoctor: {path}:{func}() raised {type(exc).__name__}: {exc}"
                       "\n(the traceback above is your setup function's; fix it and run checkup again)", err=True)
            raise typer.Exit(2) from None
    finally:
        sys.path[:] = saved
    if not isinstance(setup, dict) or not {"model", "batch"} <= set(setup):
        raise typer.BadParameter(f"{path}:{func}() must return a dict with keys model and batch "
                                 "(and optionally loss_fn, optimizer, metric_fn, higher_is_better)", param_hint="TARGET")
    return setup


@app.command(epilog="Example:\n\n  traindoctor checkup examples/healthy_mlp.py:make_setup --plots plots/\n\n"
             "The function returns dict(model=..., batch=(inputs, targets), loss_fn=..., optimizer=...).")
def checkup(
    target: str = typer.Argument(..., help="path/to/file.py:function; the function returns dict(model, batch, [loss_fn], [optimizer])."),
    probe: Optional[List[str]] = typer.Option(None, "--probe", "-p", help="Run only these probes (repeatable)."),
    overfit_steps: int = typer.Option(300, "--overfit-steps", min=1, help="Step budget of the overfit-one-batch probe."),
    experiments: Optional[bool] = typer.Option(
        None, "--experiments/--no-experiments", show_default="when the batch cannot be fitted",
        help="The differential diagnosis: arms of 50 steps on copies (learning rate x10 / x0.1, weight decay off) "
             "that tell the rate and the regularisation apart from the model itself."),
    format: Optional[Format] = _format_option(),
    plots: Optional[Path] = typer.Option(None, "--plots", help=PLOTS_HELP, callback=_plots_dir),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP, callback=_output_file),
) -> None:
    """Probe a model on one batch: overfit it, check the init loss, gradient flow, independence, LR range.

    Every probe runs on a copy: the model, optimizer, batch and RNG state are left untouched.
    """
    from .diagnosis.checkup import PROBES, checkup as run_checkup
    from .diagnosis.setup import SetupError

    setup = _load_setup(target)
    unknown = sorted(set(probe or ()) - set(PROBES))
    if unknown:
        raise typer.BadParameter(f"unknown probe(s) {unknown}; choose from {', '.join(PROBES)}", param_hint="--probe")
    try:
        report = run_checkup(setup["model"], setup["batch"], setup.get("loss_fn"), setup.get("optimizer"),
                             probes=tuple(probe) if probe else None, overfit_steps=overfit_steps,
                             experiments_=experiments, metric_fn=setup.get("metric_fn"),
                             higher_is_better=setup.get("higher_is_better", True), command=f"checkup {target}")
    except SetupError as exc:
        typer.echo(f"traindoctor: {target}: {exc}", err=True)
        raise typer.Exit(2) from None
    _emit(report, format, output, plots)


@app.command(epilog="Examples:\n\n  traindoctor lint train.py src/ notebooks/\n\n"
             "  traindoctor lint --format sarif -o traindoctor.sarif .\n\n"
             "Suppress one line with `# traindoctor: ignore[code]`; configure in pyproject.toml under [tool.traindoctor] "
             "(select, ignore, per-file-ignores).")
def lint(
    paths: List[Path] = typer.Argument(..., help="Files, directories and .ipynb notebooks."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Only these codes (repeatable; overrides the config)."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Skip these codes (repeatable; adds to the config)."),
    format: Optional[Format] = _format_option(),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP, callback=_output_file),
) -> None:
    """Find silent training bugs in source code, before anything runs.

    Exit status: 1 at least one error finding; otherwise 2 when a path could not be read or parsed
    or held no Python file (named on stderr and in the report's COULD NOT CHECK headline); else 0.
    """
    from .lint.engine import lint_paths, load_config, ordered

    try:
        config = load_config(Path.cwd())
    except ValueError as exc:
        typer.echo(f"traindoctor: {exc}", err=True)
        raise typer.Exit(2) from None
    if select:
        config.select = set(select)
    config.ignore |= set(ignore or ())
    unknown = sorted(c for c in (config.select or set()) | config.ignore if c not in CATALOG)
    if unknown:
        raise typer.BadParameter(f"unknown code(s) {unknown}; see docs/codes.md", param_hint="--select/--ignore")
    report, problems = lint_paths(paths, config)
    for problem in problems:
        typer.echo(f"traindoctor: {problem}", err=True)
    _emit(ordered(report), format, output)  # the problems are the report's `unchecked`: its exit_code decides


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A Monitor log_dir (holding report.json or monitor.jsonl)."),
    format: Optional[Format] = _format_option(),
    plots: Optional[Path] = typer.Option(None, "--plots", help=PLOTS_HELP, callback=_plots_dir),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP, callback=_output_file),
) -> None:
    """Render the diagnosis of a run recorded by traindoctor.Monitor (or its callbacks). A run killed
    before its report.json was written is rebuilt from monitor.jsonl; a report that could not look
    (monitor disabled, empty log) says so and exits 2."""
    import warnings

    from .monitor.logdir import LogError, load_run

    try:
        with warnings.catch_warnings(record=True) as caught:  # said once, on stderr, without a source line
            warnings.simplefilter("always")
            result = load_run(run_dir)
    except (LogError, OSError) as exc:
        typer.echo(f"traindoctor: {exc}", err=True)
        raise typer.Exit(2) from None
    for w in caught:
        typer.echo(str(w.message), err=True)
    _emit(result, format, output, plots)


@app.command()
def curves(
    path: Path = typer.Argument(..., help="A log: monitor.jsonl, a CSV (plain or a W&B export), W&B history JSON, "
                                "a TensorBoard event file or log dir, or an MLflow run directory."),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="A metric series to check against the "
                                               "loss (repeatable); default: series named like acc/f1/auc/..."),
    loss: Optional[str] = typer.Option(None, "--loss", help="The training-loss series, when its name does not contain loss/nll/ppl."),
    val: Optional[str] = typer.Option(None, "--val", help="The validation-loss series, when its name does not say val/eval/dev/test."),
    step: Optional[str] = typer.Option(None, "--step", help=f"The step column of a CSV/JSONL log, when it is not {'/'.join(STEP_COLUMNS)} (in any case)."),
    format: Optional[Format] = _format_option(),
    plots: Optional[Path] = typer.Option(None, "--plots", help=PLOTS_HELP, callback=_plots_dir),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP, callback=_output_file),
) -> None:
    """Diagnose the loss curves you already have: plateau, slow convergence, oscillation, spikes,
    divergence, overfitting (train vs validation) and loss-metric mismatch, with step ranges.

    Example: traindoctor curves runs/exp1 --metric val_acc -f html -o curves.html
    """
    from .curves import CurveError, analyze

    try:
        result = analyze(path, metric, loss=loss, val=val, step=step)
    except (CurveError, KeyError) as exc:
        typer.echo(f"traindoctor: {exc.args[0] if exc.args else exc}", err=True)
        raise typer.Exit(2) from None
    _emit(result, format, output, plots)


@app.command(epilog="Examples:\n\n  traindoctor sweeps runs.csv --metric val/acc\n\n"
             "  traindoctor sweeps mlruns/ --param lr --seed seed -f html -o sweep.html")
def sweeps(
    path: Path = typer.Argument(..., help="The runs: a W&B runs export (CSV, JSON or parquet), a plain table of runs x "
                                "config x seed x metric, an mlruns/ directory, or a directory of traindoctor Monitor or TensorBoard runs."),
    metric: Optional[str] = typer.Option(None, "--metric", "-m", help="The metric column; default: an evaluation metric found by name."),
    seed: Optional[str] = typer.Option(None, "--seed", help="The seed column; default: a column named like seed."),
    group: Optional[str] = typer.Option(None, "--group", help="The group column (runs compared only within a group); default: group/sweep/experiment."),
    param: Optional[List[str]] = typer.Option(None, "--param", "-p", help="A swept parameter (repeatable); default: every configuration column that varies."),
    higher_is_better: Optional[bool] = typer.Option(None, "--higher-is-better/--lower-is-better", show_default="by the metric's name"),
    best: bool = typer.Option(False, "--best/--final", help="Each run's best logged metric instead of its final one (where the runs keep a history)."),
    format: Optional[Format] = _format_option(),
    plots: Optional[Path] = typer.Option(None, "--plots", help=PLOTS_HELP, callback=_plots_dir),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP, callback=_output_file),
) -> None:
    """Tell a parameter's effect from seed variance: per value the mean metric, its spread, the mean
    within-(group, seed) z-score and the t-statistic of the paired per-seed differences; dose-response
    trends; confounded parameters, unreplicated values, lucky seeds and runs with NaN metrics."""
    from .sweeps import SweepError, analyze as analyze_sweep

    try:
        result = analyze_sweep(path, metric=metric, seed=seed, group=group, params=param,
                               higher_is_better=higher_is_better, best=best)
    except SweepError as exc:
        typer.echo(f"traindoctor: {exc}", err=True)
        raise typer.Exit(2) from None
    _emit(result, format, output, plots)


@app.command(epilog="Examples:\n\n  traindoctor surface my_loss.py:make_loss -f html -o surface.html\n\n"
             "The function returns the loss callable, or dict(loss_fn=..., axes=[...], ranges={...}, inputs={...}, "
             "points={...}); see docs/surface.md.")
def surface(
    target: str = typer.Argument(..., help="path/to/file.py:function (default function: make_loss)."),
    axis: Optional[List[str]] = typer.Option(None, "--axis", "-a", help="An argument of the loss to grid (one or two; "
                                             "overrides the function's axes)."),
    cells: Optional[int] = typer.Option(None, "--cells", min=3, help="Grid points per axis (default 201 for one axis, 41 for two)."),
    format: Optional[Format] = _format_option(),
    plots: Optional[Path] = typer.Option(None, "--plots", help=PLOTS_HELP, callback=_plots_dir),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP, callback=_output_file),
) -> None:
    """A loss function's landscape before training: the loss over a grid of one or two of its inputs with
    its negative-gradient field, and a table of loss and gradient at zero, small, converged and degenerate
    inputs, flagging dead zones, non-finite regions, axes 1000x apart and saddles."""
    from .surface import SurfaceError, analyze as analyze_surface, load

    try:
        options = load(target)
        if axis:
            options["axes"] = axis
        if cells:
            options["n"] = cells
        result = analyze_surface(**options, command=f"surface {target}")
    except SurfaceError as exc:
        typer.echo(f"traindoctor: {exc}", err=True)
        raise typer.Exit(2) from None
    _emit(result, format, output, plots)


class Domain(str, Enum):
    generic = "generic"
    driving = "driving"
    robotics = "robotics"


@app.command(epilog="Examples:\n\n  traindoctor data train.csv --eval val.csv --target label\n\n"
             "  traindoctor data shards/ --eval val.parquet --group episode_id -f html -o data.html\n\n"
             "  traindoctor data make_data.py:train_set --eval make_data.py:val_set\n\n"
             "  traindoctor data train.csv --model model.py:make_model")
def data(
    train: str = typer.Argument(..., help="The training split: a CSV/TSV, JSONL, parquet, .npz/.npy or torch.save'd "
                                "dict of tensors, a directory of them, or module.py:function returning a Dataset, "
                                "DataLoader or dict of arrays."),
    eval: Optional[List[str]] = typer.Option(None, "--eval", "-e", help="An evaluation split, in any of the same forms (repeatable)."),
    target: Optional[List[str]] = typer.Option(None, "--target", "-t", help="The target column(s) (repeatable or comma-separated); default: a column named target/label/y/class/action."),
    label: Optional[str] = typer.Option(None, "--label", help="A class-label target column (same as --target)."),
    time_col: Optional[str] = typer.Option(None, "--time", help="The time column; default: a column named time/timestamp/date."),
    episode: Optional[str] = typer.Option(None, "--episode", help="The episode (or scene) column: splits must not share its values."),
    group: Optional[List[str]] = typer.Option(None, "--group", help="A group column (user, patient, ...) splits must not share (repeatable)."),
    id_col: Optional[List[str]] = typer.Option(None, "--id", help="Row-id columns, left out of the feature checks; default: id/index/idx."),
    domain: Domain = typer.Option(Domain.generic, "--domain", help="The conventions to check beyond the generic ones."),
    sample_cap: int = typer.Option(50_000, "--sample-cap", min=1, help="Samples read from a Dataset or DataLoader (files are always read whole)."),
    slice_col: Optional[List[str]] = typer.Option(None, "--slice", help="A categorical column to break the metric down by (repeatable); needs --metric or --prediction."),
    metric: Optional[str] = typer.Option(None, "--metric", help="A per-row metric column (ADE, loss, correct) for --slice."),
    prediction: Optional[str] = typer.Option(None, "--prediction", help="A prediction column, compared with the target, for --slice."),
    probs: Optional[List[str]] = typer.Option(None, "--probs", help="Out-of-sample class probabilities (one vector column, or one column per class in sorted label order): label noise by confident learning."),
    obs: Optional[List[str]] = typer.Option(None, "--obs", help="Observation column(s) (robotics); default: obs/observation/state/qpos, else every feature."),
    action: Optional[List[str]] = typer.Option(None, "--action", help="Action column(s) (robotics): targets; default: a column named action."),
    position: Optional[List[str]] = typer.Option(None, "--position", help="Position columns x,y (or one vector column) (driving); default: x/y, pos_x/pos_y, position."),
    heading: Optional[str] = typer.Option(None, "--heading", help="The heading column (driving); default: heading/yaw/theta."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="A diffusion/flow noise schedule to judge against the actions (robotics): linear, cosine, flow, flow:T_MIN, linear:STEPS, a .npy/.txt of betas or a .json."),
    model: Optional[str] = typer.Option(None, "--model", help="module.py:function returning a model or pipeline (or (model, batch)): poison one sample of a batch and report other samples it reaches (cross-sample leakage)."),
    format: Optional[Format] = _format_option(),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help=OUTPUT_HELP, callback=_output_file),
) -> None:
    """Audit a dataset before training on it: per-dimension statistics, constant dimensions, outliers,
    sentinel codes, missing values, target scales, class balance, duplicates, split overlap, train/eval
    shift, single-feature leakage and time series split at random; with --domain driving or robotics, the
    conventions of driving logs and robot demonstrations. One streaming pass per split.
    """
    from .data import DataError, audit_data

    roles = {"target": target, "label": label, "time": time_col, "episode": episode, "group": group, "id": id_col,
             "slice": slice_col, "metric": metric, "prediction": prediction, "probs": probs, "obs": obs,
             "action": action, "position": position, "heading": heading}
    command = "data " + " ".join([train] + [f"--eval {e}" for e in eval or []])
    try:
        report = audit_data(train, eval or None, domain=domain.value, sample_cap=sample_cap, command=command,
                            schedule=schedule, model=model, **{k: v for k, v in roles.items() if v})
    except DataError as exc:
        typer.echo(f"traindoctor: {exc}", err=True)
        raise typer.Exit(2) from None
    _emit(report, format, output)


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # a bug in traindoctor itself: say so, exit 2
        import traceback

        traceback.print_exc()
        typer.echo(f"traindoctor: internal error ({type(exc).__name__}: {exc}); please report it with the traceback above", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
