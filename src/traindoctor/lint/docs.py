"""Generate docs/rules.md: `python -m traindoctor.lint.docs > docs/rules.md`.

The explanation of each rule comes from the catalog (traindoctor.codes); what is specific to the
static rule — how it decides and where it is blind — lives here.
"""

from __future__ import annotations

from ..vocabulary import catalog as codes

# code -> (how the rule decides, known false negatives, known false positives)
BOUNDARIES: dict[str, tuple[str, str, str]] = {
    "double-softmax": (
        "The first argument of `F.cross_entropy` / a `nn.CrossEntropyLoss` instance is a softmax call, a name assigned "
        "one, or a call of a model whose `nn.Sequential` ends in `nn.Softmax` or whose `forward` returns a softmax "
        "(reshapes such as `.view`/`.squeeze` are looked through).",
        "Models built in another file or by a factory; softmax applied inside a helper function; values passed "
        "through containers.",
        "None known: the argument must provably hold a softmax output."),
    "double-sigmoid": (
        "Same data flow as double-softmax, for `binary_cross_entropy_with_logits` / `nn.BCEWithLogitsLoss` and sigmoid.",
        "As for double-softmax.", "None known."),
    "nll-without-log-softmax": (
        "`nll_loss` / `nn.NLLLoss` receives a softmax or sigmoid output, or the output of an `nn.Sequential` ending in "
        "`nn.Linear`.", "Models defined elsewhere; logits produced by a custom `forward`.", "None known."),
    "grad-not-zeroed": (
        "The innermost loop that calls `.backward()` and `<optimizer>.step()` (a name built by `torch.optim`, or "
        "named like an optimizer; `scaler.step(opt)` counts) contains no `zero_grad()` — directly, in any nested "
        "block, or in a helper function of the same file it calls — and no `p.grad = None`. Gradient accumulation "
        "(zero_grad under an `if` in the loop) is therefore fine.",
        "backward and step inside a helper called from the loop; zero_grad reachable only through another file.",
        "A loop that accumulates on purpose across optimizer steps (rare; suppress the line)."),
    "zero-grad-misplaced": (
        "In one loop body, a `zero_grad()` follows a `.backward()` and precedes the next optimizer step with no "
        "backward in between, at the same loop level.", "Orders split across helper functions.", "None known."),
    "scheduler-too-fast": (
        "A per-epoch scheduler (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, PolynomialLR) is stepped "
        "without arguments in the innermost training loop, when that loop iterates over something named like a "
        "loader or batches, and the scheduler's period does not mention `len(`, steps, iterations, totals or batches.",
        "Schedulers created in another file; loops over other iterables; a period computed in a variable whose name "
        "does not say it counts steps.",
        "A period that really is in batches but named without those words (e.g. `T_max=n`) — suppress the line."),
    "eval-in-train-mode": (
        "A model that is trained in this file (called in a loop with backward) is called under `torch.no_grad()` / "
        "`inference_mode()`, and nothing in the file calls `.eval()` or `.train(False)`. Models whose class is found "
        "(this file, or `from module import Class` next to it) without dropout or batch norm are exempt. Reported as "
        "a warning: a static rule cannot see the layers of every model.",
        "eval() called on some other object satisfies the rule; evaluation in another file.",
        "A no_grad forward that must stay in train mode (e.g. a BN-statistics refresh) in a file that never calls eval()."),
    "train-in-eval-mode": (
        "A trained model has `.eval()` called on it in this file and nothing calls `.train()` at all.",
        "train() called on some other object satisfies the rule.", "None known."),
    "no-grad-training": (
        "`.backward()` lexically inside `with torch.no_grad()` / `inference_mode()`.",
        "no_grad entered in a caller.", "None known (backward under no_grad fails or does nothing)."),
    "graph-break": (
        "The tensor `.backward()` is called on was assigned from `torch.tensor(...)` / `Tensor` / `from_numpy` / "
        "`Variable`, from a call ending in `.item()` / `.numpy()` / `.tolist()` / `.detach()`, or from `.data`.",
        "Breaks earlier in the computation (a detached intermediate); breaks in another function.",
        "None known: `.detach()` on targets inside the loss expression is not flagged."),
    "test-fit-leakage": (
        "`.fit(...)` / `.fit_transform(...)` whose first argument's text names test, val, valid, validation, "
        "holdout or dev data (and not train).", "Evaluation data under other names.",
        "A variable named like evaluation data that is really training data."),
    "shuffled-time-split": (
        "`train_test_split` without `shuffle=False` in a file that handles time-ordered data (`to_datetime`, "
        "`rolling`, `shift`, `TimeSeriesSplit`, or `sort_values` on a date/time column).",
        "Time series without those markers.", "A shuffled split that is intended (i.i.d. rows that merely carry a date)."),
    "squeeze-without-dim": (
        "`.squeeze()` with no argument passed directly to a call whose name contains loss or criterion.",
        "squeeze() assigned to a variable first.", "None known."),
    "prng-key-reuse": (
        "In one function, the same key name is the first argument of two `jax.random.*` calls (split included) "
        "with no reassignment between them. Active only when the file imports jax.",
        "Keys passed through containers or other functions.", "None known."),
    "jit-side-effect": (
        "A function decorated with `jax.jit` / `jit` / `partial(jax.jit, ...)` calls `print`, appends to a list it "
        "did not create, or declares a global.", "Side effects through helper functions.",
        "Deliberate trace-time prints."),
    "unsafe-torch-load": (
        "`torch.load(..., weights_only=False)` is a warning; `torch.load` without `weights_only` is info (safe by "
        "default from torch 2.6).", "Aliased imports of `torch.load`.", "None known."),
    "inplace-on-leaf": (
        "A name assigned from a call with `requires_grad=True` is later updated in place (`+=`, `x[...] =`, or an "
        "in-place method ending in `_`) outside `torch.no_grad()`.", "Parameters created as `nn.Parameter`.",
        "None known (autograd raises on this)."),
}


def render() -> str:
    lines = ["# Lint rules", "", "<!-- generated by `python -m traindoctor.lint.docs`; edit src/traindoctor/vocabulary/catalog.py "
             "and src/traindoctor/lint/docs.py instead -->", "",
             "`traindoctor lint` shares its codes with the runtime checks ([codes.md](codes.md)), so a bug found in "
             "the source and at runtime is one finding. Suppress a line with `# traindoctor: ignore[code]`.", ""]
    for code, (how, misses, false_alarms) in BOUNDARIES.items():
        c = codes.get(code)
        lines += [f"## `{code}` — {c.title}", "", f"**What it does.** {c.what}", "", f"**Why is this bad?** {c.why}", "",
                  f"**How the rule decides.** {how}", "", f"**Known false negatives.** {misses}", "",
                  f"**Known false positives.** {false_alarms}", "", "**Example**", "", "```python", c.bad, "```", "",
                  "Use instead:", "", "```python", c.good, "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
