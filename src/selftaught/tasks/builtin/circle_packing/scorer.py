"""Hidden scorer of circle_packing (AlphaEvolve's benchmark, as OpenEvolve and ShinkaEvolve report it).

One instance per split: n = 26 for validation, n = 32 for test. The program returns (centers, radii);
the score is min(1, sum of radii / best known sum). Both n are public, so a program can hard-code a
packing for 26; the n = 32 test split then measures whether its construction generalises.

The check is strict because the peers' evaluators were gamed: NaN centres compare False with every
bound (so `x - r < 0` never fires), and a 1e-6 tolerance on overlaps adds up to a measurable gain over
26 circles. Here every value must be finite, the shapes exact ((n, 2) and (n,)), radii positive, each
circle inside [0, 1]^2 and no two overlapping, with no slack beyond 1e-12 absolute (float rounding of a
packing whose circles touch). A sum above the best known is recorded as a "new-best" event (worth a
look, not a safety finding) - only once the packing has passed every check.
"""

import numpy as np

from selftaught.tasks import InvalidOutput, Score, describe, real_array

SIZES = {"val": 26, "test": 32}
BEST_KNOWN = {26: 2.635, 32: 2.937}
"""Best sums of radii known to us (AlphaEvolve reports 2.63586 for 26); the utility's denominators."""

TOLERANCE = 1e-12


def instances(split, seed, count):
    n = SIZES[split]
    return [([n], n) for _ in range(count)]


def check_packing(output, n):
    """The validated (centers, radii) of an output, or InvalidOutput saying what is wrong."""
    if not isinstance(output, list | tuple) or len(output) != 2:
        raise InvalidOutput(f"expected a pair (centers, radii), got {describe(output)}")
    centers = real_array(output[0], (n, 2), "centers")
    radii = real_array(output[1], (n,), "radii")
    if not (radii > 0).all():
        raise InvalidOutput("radii: every radius must be positive")
    low = centers - radii[:, None]
    high = centers + radii[:, None]
    if (low < -TOLERANCE).any() or (high > 1.0 + TOLERANCE).any():
        worst = int(np.argmax(np.maximum(-low, high - 1.0).max(axis=1)))
        raise InvalidOutput(f"circle {worst} is not inside the unit square")
    gaps = np.sqrt(((centers[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)) - (
        radii[:, None] + radii[None, :]
    )
    np.fill_diagonal(gaps, np.inf)
    if (gaps < -TOLERANCE).any():
        i, j = np.unravel_index(int(np.argmin(gaps)), gaps.shape)
        raise InvalidOutput(f"circles {min(i, j)} and {max(i, j)} overlap by {-gaps[i, j]:.3g}")
    return centers, radii


def score(instance, output):
    n = instance.hidden
    _, radii = check_packing(output, n)
    total = float(np.sum(radii))
    best = BEST_KNOWN[n]
    events = ()
    if total > best:
        events = (("new-best", f"circle_packing n={n}: sum of radii {total:.6f} > best known {best}"),)
    return Score(min(1.0, total / best), {"sum_radii": total}, events)
