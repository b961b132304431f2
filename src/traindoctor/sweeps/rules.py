"""What a sweep's numbers mean: the four sweep codes, decided from `stats.py`'s numbers for one
parameter in one group (and from the association of two parameters)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from ..judge.thresholds import CONFOUND_V, LUCKY_CARRY, LUCKY_LEAD, LUCKY_P, RELIABLE_MIN_SEEDS, RELIABLE_T
from ..vocabulary.finding import Finding, finding


def judge(group: str, param: str, st: dict[str, Any], metric: str, higher: bool) -> list[Finding]:
    """Findings about one parameter's values within one group."""
    where = {"group": group, "parameter": param}
    label = f"`{param}`" + (f" in group {group}" if group else "")
    n = len(st["paired_seeds"])
    if n < RELIABLE_MIN_SEEDS:
        found = [_unreplicated(label, st, n, where)]
    else:
        found = _reliable(label, param, st, metric, higher, n, where)
    lucky = _lucky(label, param, st, metric, higher, n, where)
    return found + ([lucky] if lucky else [])


def confounded(group: str, a: str, b: str, v: float, pairs: dict[str, list]) -> Finding | None:
    if v < CONFOUND_V:
        return None
    shown = "; ".join(f"{a}={k} ran with {b}={', '.join(map(str, w))}" for k, w in list(pairs.items())[:4])
    return finding("confounded-sweep", f"`{a}` and `{b}` vary together" + (f" in group {group}" if group else "")
                   + f" (Cramér's V {v:.2f}): {shown}", "sweeps",
                   evidence={"parameters": [a, b], "cramers_v": v, "combinations": pairs},
                   location={"group": group, "parameter": a})


def chance_rate(n: int) -> float | None:
    """The probability that |t| >= RELIABLE_T on n seeds when the value does not matter."""
    return float(2 * stats.t.sf(RELIABLE_T, n - 1)) if n >= 2 else None


def _unreplicated(label: str, st: dict, n: int, where: dict) -> Finding:
    k = len(st["values"])
    if n == 0:
        said = f"no seed ran all {k} values (seeds {', '.join(map(str, st['unpaired_seeds'][:6]))} each ran some)"
    elif n == 1:
        said = f"one seed ran all {k} values: there is no t-statistic, every difference may be seed variance"
    else:
        said = (f"{n} seeds ran all {k} values; with {n} seeds |t| ≥ {RELIABLE_T:g} arises by chance in "
                f"{chance_rate(n):.0%} of comparisons of values that do not matter")
    return finding("unreplicated", f"{label}: {said}", "sweeps",
                   evidence={"paired_seeds": n, "values": k, "chance_rate": chance_rate(n),
                             "min_seeds": RELIABLE_MIN_SEEDS}, location=where)


def _reliable(label: str, param: str, st: dict, metric: str, higher: bool, n: int, where: dict) -> list[Finding]:
    sign = 1 if higher else -1
    called = sorted((r for r in st["values"] if r["t"] is not None and abs(r["t"]) >= RELIABLE_T),
                    key=lambda r: -sign * r["t"])
    calls = [f"{r['value']} {'better' if sign * r['diff'] > 0 else 'worse'} ({r['diff']:+.4g} {metric} against the "
             f"other values, t = {r['t']:.2f}, p = {r['p']:.2g}, mean z {r['mean_z']:+.2f})" for r in called]
    trend = st["trend"]
    if trend and trend["t"] is not None and abs(trend["t"]) >= RELIABLE_T:
        more = "more" if sign * trend["slope"] > 0 else "less"
        calls.append(f"dose-response: {more} {param} is better (r = {trend['r']:.2f} on "
                     f"{'log10 ' if trend['log_scale'] else ''}{param}; t = {trend['t']:.2f} over the seeds' slopes)")
    if not calls:
        return []
    return [finding("reliable-effect", f"{label}, paired over {n} seeds: " + "; ".join(calls), "sweeps",
                    evidence={"values": called,
                              "trend": trend, "chance_rate": chance_rate(n)}, location=where)]


def _lucky(label: str, param: str, st: dict, metric: str, higher: bool, n: int, where: dict) -> Finding | None:
    """The value a reader of the means would pick leads by a lot, unreliably, thanks to one seed that is an
    outlier against the noise of the other seeds."""
    if n < 3:  # with two seeds neither can be told to be the odd one
        return None
    sign = 1 if higher else -1
    best = max(st["values"], key=lambda r: sign * r["mean"])
    lead = sign * best["diff"]
    if lead <= 0 or abs(best["t"]) >= RELIABLE_T:
        return None
    d = sign * np.array(best["diffs"])
    lucky = int(np.argmax(d))
    rest = float(np.delete(d, lucky).mean())
    k = len(st["values"])
    noise = st["noise_without"][lucky]
    # One seed's paired difference has variance noise² k/(k-1) (its own run, the mean of its other runs);
    # its excess over the mean of n-1 others has 1 + 1/(n-1) of that. Its quantile: the t distribution
    # with the noise's (n-2)(k-1) degrees of freedom, at LUCKY_P shared among the n seeds that could be it.
    spread = noise * np.sqrt(k / (k - 1) * (1 + 1 / (n - 1)))
    outlier = stats.t.isf(LUCKY_P / n, (n - 2) * (k - 1)) * spread
    if lead < LUCKY_LEAD * noise or d[lucky] - rest < outlier or rest >= LUCKY_CARRY * lead:
        return None
    seed = st["paired_seeds"][lucky]
    return finding("lucky-seed", f"{label}: {param}={best['value']} has the best mean {metric} ({best['mean']:.4g}), "
                   f"{lead:.3g} ahead of the other values on average, but t = {best['t']:.2f} over {n} seeds: "
                   f"seed {seed} alone puts it {d[lucky]:.3g} ahead, the other seeds {rest:+.3g} on average "
                   f"(their run-to-run deviation: {noise:.3g})", "sweeps",
                   evidence={"value": best["value"], "lead": lead, "t": best["t"], "seed": seed,
                             "lead_of_seed": float(d[lucky]), "lead_without_seed": rest, "noise": noise},
                   location=where)
