"""Score vs budget: the best downstream utility an improver had found against the LM calls it had spent.

Why from the utility calls: the meta-utility says how good an improver's final answer is; this says how
fast it got there. Every downstream utility call of a meta-utility test is stored in order with the LM
calls its improver run had spent when the call arrived (store schema 3), so the curve needs no rerun.

For one improver run the curve is a step function: at x LM calls spent, the best utility among the calls
made with at most x LM calls spent (a call counts at the budget it was made with, so calls issued
concurrently are placed where they were asked, whatever order they finished in). It is non-decreasing and
ends at the best utility the run saw. An iteration's curve is the mean of its tests' step functions,
from the first budget at which every test with calls had made one (before that the mean would average
different sets of runs and could fall); it is non-decreasing too and ends at the mean of the runs' bests.
Runs with no utility call (failed before asking) are counted apart, not averaged in as zeros.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from selftaught.report.model import BudgetCurve, Iteration
from selftaught.store import Context, UtilityCallRecord

Step = tuple[int, float]
"""(LM calls spent, best utility so far) at one budget where the best-so-far may change."""


def best_so_far(calls: Iterable[tuple[int, float]]) -> list[Step]:
    """The step function of one run from its (LM calls spent, utility) pairs, one step per distinct budget."""
    best_at: dict[int, float] = {}
    for spent, value in calls:
        best_at[spent] = max(value, best_at.get(spent, value))
    steps: list[Step] = []
    for spent in sorted(best_at):
        best = best_at[spent] if not steps else max(best_at[spent], steps[-1][1])
        steps.append((spent, best))
    return steps


def value_at(steps: Sequence[Step], spent: int) -> float | None:
    """The step function at `spent` (None before its first call)."""
    found = None
    for x, best in steps:
        if x > spent:
            break
        found = best
    return found


def mean_curve(runs: Sequence[Sequence[Step]]) -> list[Step]:
    """The mean over runs of their step functions, from the first budget where every run has a value."""
    runs = [steps for steps in runs if steps]
    if not runs:
        return []
    start = max(steps[0][0] for steps in runs)
    grid = sorted({x for steps in runs for x, _ in steps if x >= start} | {start})
    curve = []
    for x in grid:
        values = [value_at(steps, x) for steps in runs]
        curve.append((x, sum(v for v in values if v is not None) / len(values)))
    return curve


def budget_curves(
    iterations: Sequence[Iteration], calls: Iterable[UtilityCallRecord]
) -> tuple[BudgetCurve, ...]:
    """One curve per iteration whose improver's fresh estimate (context "iteration t") has budget records."""
    by_run: dict[tuple[Context, str, int], list[tuple[int, float]]] = {}
    unknown: set[tuple[Context, str, int]] = set()
    for call in calls:
        key = (call.context, call.improver_sha, call.test_index)
        if call.lm_calls is None:
            unknown.add(key)  # a store older than schema 3: the budget was not recorded
        else:
            by_run.setdefault(key, []).append((call.lm_calls, call.value))
    curves = []
    for it in iterations:
        context = Context.iteration(it.t)
        keys = sorted(
            key for key in by_run if key[0] == context and key[1] == it.improver_sha and key not in unknown
        )
        if not keys:
            continue
        runs = [best_so_far(by_run[key]) for key in keys]
        curve = mean_curve(runs)
        curves.append(
            BudgetCurve(
                t=it.t,
                improver_sha=it.improver_sha,
                status=it.status,
                tests=len(runs),
                lm_calls=tuple(x for x, _ in curve),
                best=tuple(y for _, y in curve),
                run_best=tuple(steps[-1][1] for steps in runs),
                run_calls=tuple(len(by_run[key]) for key in keys),
            )
        )
    return tuple(curves)
