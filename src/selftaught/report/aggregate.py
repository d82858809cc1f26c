"""Statistics over several runs: mean ± standard error per iteration, and strategy counts.

The per-iteration numbers come from `estimates.aggregate_iterations`, the one group aggregation the
CLI's `run --seeds` uses too: per iteration, over the runs that reached it, with `AggregatePoint.runs`
saying how many there were (runs of one group may stop at different depths).
"""

from __future__ import annotations

from collections import Counter

from selftaught.estimates import aggregate_iterations
from selftaught.report.model import AggregatePoint, GroupSummary, RunSummary
from selftaught.report.strategies import STRATEGIES


def aggregate_points(runs: list[RunSummary] | tuple[RunSummary, ...]) -> tuple[AggregatePoint, ...]:
    return aggregate_iterations(run.iterations for run in runs)


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
    return GroupSummary(
        group_id=group_id,
        runs=ordered,
        points=aggregate_points(ordered),
        strategy_counts=strategy_counts(ordered),
    )
