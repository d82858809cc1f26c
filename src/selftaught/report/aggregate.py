"""Statistics over several runs: mean ± standard error per iteration, and strategy counts.

Why per-iteration over the runs that reached it: runs of one group may stop at different depths (one
killed, one still running); averaging only the runs that have iteration t keeps every point honest, and
`AggregatePoint.runs` says how many there were.
"""

from __future__ import annotations

import statistics
from collections import Counter

from selftaught.estimates import standard_error
from selftaught.report.model import AggregatePoint, GroupSummary, RunSummary
from selftaught.report.strategies import STRATEGIES


def aggregate_points(runs: list[RunSummary] | tuple[RunSummary, ...]) -> tuple[AggregatePoint, ...]:
    by_t: dict[int, list[tuple[float, float]]] = {}
    for run in runs:
        for it in run.iterations:
            by_t.setdefault(it.t, []).append((it.meta_utility_val, it.meta_utility_test))
    points = []
    for t in sorted(by_t):
        vals = [val for val, _ in by_t[t]]
        tests = [test for _, test in by_t[t]]
        points.append(AggregatePoint(t=t, runs=len(vals), mean_val=statistics.fmean(vals),
                                     stderr_val=standard_error(vals), mean_test=statistics.fmean(tests),
                                     stderr_test=standard_error(tests)))
    return tuple(points)


def strategy_counts(runs: list[RunSummary] | tuple[RunSummary, ...]) -> dict[str, int]:
    """How many distinct improved improvers (t >= 1, status "improved") show each strategy, over all runs.

    Distinct by content (sha): an improver kept unchanged through several iterations counts once.
    """
    seen: set[str] = set()
    counts: Counter[str] = Counter()
    for run in runs:
        for improver in run.improvers:
            if improver.t == 0 or improver.status != "improved" or improver.sha in seen:
                continue
            seen.add(improver.sha)
            counts.update(hit.strategy for hit in improver.strategies)
    return {name: counts[name] for name in STRATEGIES}


def group_summary(group_id: str, runs: list[RunSummary]) -> GroupSummary:
    ordered = tuple(sorted(runs, key=lambda run: (run.seed if run.seed is not None else 0, run.run_id)))
    return GroupSummary(group_id=group_id, runs=ordered, points=aggregate_points(ordered),
                        strategy_counts=strategy_counts(ordered))
