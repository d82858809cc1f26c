"""The one line that ends `selftaught run`'s table: what self-improvement changed on test, and by how much.

Why its own module: the line must be computed from the run's own numbers (never typed into a README),
say plainly when nothing improved, and pick the improver the way `selftaught runs` does — by
validation, never by test — so a user reading it cannot be shown a test gain chosen on test.

The comparison is the seed improver (t=0) against the validation-selected improver: the iteration with
the highest validation meta-utility, earliest on a tie (t=0 included, so a run whose validation never
rose above the seed's selects the seed and reports no gain). A test change smaller than twice its
standard error (the two iterations' standard errors combined) is called "within noise": one run's five
tests rarely settle it (the seed improver's tests are often all-or-nothing), `--seeds N` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from selftaught.estimates import select_iteration


@dataclass(frozen=True)
class Point:
    """One iteration's meta-utility estimates (mean and standard error over its tests or seeds)."""

    t: int
    val: float
    test: float
    se_test: float = 0.0

    @classmethod
    def of(cls, iteration: Any) -> Point:
        """From a stored iteration (`IterationRecord`, or anything with its field names)."""
        return cls(
            iteration.t, iteration.meta_utility_val, iteration.meta_utility_test, iteration.stderr_test
        )


@dataclass(frozen=True)
class _Selectable:
    t: int
    meta_utility_val: float
    point: Point


def selected(points: Sequence[Point]) -> Point:
    """The iteration validation selects, by the one rule (`estimates.select_iteration`)."""
    chosen = select_iteration(_Selectable(p.t, p.val, p) for p in points)
    if chosen is None:
        raise ValueError("no points to select from")
    return chosen.point


def gain_line(points: Sequence[Point], test_split: bool = True) -> str:
    """One sentence: test of the seed improver -> test of the validation-selected improver, honestly.
    Without a test split (OpenEvolve tasks) it says so and compares nothing on test."""
    if not points:
        return "no iterations finished: nothing to compare"
    if not test_split:
        seed, chosen = min(points, key=lambda point: point.t), selected(points)
        return (
            f"validation {seed.val:.3f} -> {chosen.val:.3f} from the seed improver (t={seed.t}) to the "
            f"improver validation selects (t={chosen.t}); no test split (an OpenEvolve evaluator takes "
            "no seed), so no held-out measurement of the gain"
        )
    seed = min(points, key=lambda point: point.t)
    if len(points) == 1:
        return f"only the seed improver ran (t={seed.t}): test {seed.test:.3f}, nothing to compare"
    chosen = selected(points)
    if chosen.t == seed.t:
        return (
            f"no gain: validation never rose above the seed improver's (t={seed.t}); "
            f"test stays {seed.test:.3f}"
        )
    delta = chosen.test - seed.test
    noise = 2 * math.hypot(seed.se_test, chosen.se_test)
    text = (
        f"test {seed.test:.3f} -> {chosen.test:.3f} ({delta:+.3f}) from the seed improver (t={seed.t}) "
        f"to the improver validation selects (t={chosen.t})"
    )
    if abs(delta) < noise or delta == 0:
        return f"{text}: within noise, not significant in this run (2 SE = {noise:.3f})"
    if delta < 0:
        return f"{text}: test got worse"
    return text
