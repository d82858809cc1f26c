"""The Wilson score interval: how sure a measured circumvention rate is.

The paper reports rates such as 0.42% of 10,000 attempts with a 95% Wilson interval (0.31–0.57%). Wilson,
unlike the normal approximation, stays inside [0, 1] and is sensible at 0 or n successes, which is the
common case for a rare event measured on a few hundred attempts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054
"""Two-sided 95% quantile of the standard normal distribution."""


@dataclass(frozen=True)
class Rate:
    """`successes` of `trials` with its Wilson interval (all proportions, not percentages)."""

    successes: int
    trials: int
    rate: float
    low: float
    high: float


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion; (0, 1) when there are no trials."""
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    denominator = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def rate_with_interval(successes: int, trials: int, z: float = Z_95) -> Rate:
    low, high = wilson_interval(successes, trials, z)
    return Rate(successes, trials, successes / trials if trials else 0.0, low, high)


def percent(value: float) -> str:
    """0.0042 -> '0.42%' (two decimals, as the paper prints rates)."""
    return f"{100 * value:.2f}%"
