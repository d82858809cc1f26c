"""The one standard error and the one group aggregation: meta-utility estimates, `run --seeds` and reports.

Why the group aggregation lives here, at the bottom: the CLI's `run --seeds` summary/JSON and the
report's group page must show the same numbers for the same runs, so both call `aggregate_iterations`
rather than each walking the iterations its own way (they once disagreed: one averaged only the
iterations every run reached, the other every iteration). Per iteration t it averages the runs that
reached t and says how many they were, so a group whose runs stopped at different depths stays honest.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol


def standard_error(values: Sequence[float]) -> float:
    """Standard error of the mean (sample standard deviation / sqrt(n)); 0 for fewer than two values."""
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / math.sqrt(len(values))


class IterationLike(Protocol):
    """What the aggregation reads of one stored iteration (`store.IterationRecord` has these fields)."""

    @property
    def t(self) -> int: ...
    @property
    def meta_utility_val(self) -> float: ...
    @property
    def meta_utility_test(self) -> float: ...
    @property
    def improver_sha(self) -> str: ...


@dataclass(frozen=True)
class AggregatePoint:
    """Mean ± standard error over the runs of a group at iteration t (only the `runs` that reached t)."""

    t: int
    runs: int
    mean_val: float
    stderr_val: float
    mean_test: float
    stderr_test: float
    improver_shas: tuple[str, ...] = ()  # the improver each run that reached t had, in run order


def aggregate_iterations(runs: Iterable[Iterable[IterationLike]]) -> tuple[AggregatePoint, ...]:
    """Per iteration t (ascending): mean ± SE of validation and test over the runs that reached t."""
    by_t: dict[int, list[IterationLike]] = {}
    for iterations in runs:
        for it in iterations:
            by_t.setdefault(it.t, []).append(it)
    points = []
    for t in sorted(by_t):
        vals = [it.meta_utility_val for it in by_t[t]]
        tests = [it.meta_utility_test for it in by_t[t]]
        points.append(
            AggregatePoint(
                t=t,
                runs=len(vals),
                mean_val=statistics.fmean(vals),
                stderr_val=standard_error(vals),
                mean_test=statistics.fmean(tests),
                stderr_test=standard_error(tests),
                improver_shas=tuple(it.improver_sha for it in by_t[t]),
            )
        )
    return tuple(points)
