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
from typing import Protocol, TypeVar


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


class Selectable(Protocol):
    @property
    def t(self) -> int: ...
    @property
    def meta_utility_val(self) -> float: ...


S = TypeVar("S", bound=Selectable)


def select_iteration(iterations: Iterable[S]) -> S | None:
    """The one best-iteration rule (`runs`, `report`, `compare` and the gain line): the highest
    validation meta-utility, the earliest t on a tie, t=0 included (a run whose validation never rose
    above the seed improver's selects the seed). Never by test: that would choose on test."""
    return min(iterations, key=lambda it: (-it.meta_utility_val, it.t), default=None)


def self_improvement_steps(iterations: Iterable[Selectable]) -> int:
    """The one iteration count: self-improvement steps finished (t >= 1; t=0 is the seed improver)."""
    return sum(1 for it in iterations if it.t > 0)


STATUS_MEANINGS = {
    "seed": "the starting improver",
    "adopted": "a different improver that validation prefers to its parent",
    "changed, not better": "a different improver, carried on, but validation does not prefer it",
    "kept": "the step failed or returned the same improver; the parent improver stays",
}


def status_label(status: str, val: float, parent_val: float | None) -> str:
    """How an iteration reads (the words of `STATUS_MEANINGS`): a stored `improved` (the improver
    changed) is `adopted` only when its validation meta-utility beats its parent's."""
    if status != "improved":
        return status
    return "adopted" if parent_val is None or val > parent_val else "changed, not better"


class Labelled(Selectable, Protocol):
    @property
    def status(self) -> str: ...


def status_labels(iterations: Sequence[Labelled]) -> dict[int, str]:
    """`status_label` of every iteration, by t (its parent is iteration t-1)."""
    by_t = {it.t: it for it in iterations}
    return {
        it.t: status_label(
            it.status, it.meta_utility_val, by_t[it.t - 1].meta_utility_val if it.t - 1 in by_t else None
        )
        for it in iterations
    }
