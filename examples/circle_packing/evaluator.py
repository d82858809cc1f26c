"""Scores a circle packing of 26 circles in the unit square (OpenEvolve evaluator format).

combined_score = min(1, sum of radii / 2.635), the best sum known to us (AlphaEvolve reports 2.63586),
so it lies in [0, 1]; the raw sum is reported as `sum_radii`. The check is strict, as in selftaught's
built-in task: finite values, centers of shape exactly (26, 2) and radii of shape exactly (26,), radii
> 0, every circle inside the unit square and no overlaps, with no slack beyond 1e-12 (float rounding).
An invalid packing scores 0 and says why in the artifacts. Evaluators elsewhere were gamed by NaN
centres (NaN fails every comparison) and by a 1e-6 overlap tolerance; neither passes here.
"""

import importlib.util

import numpy as np
from openevolve.evaluation_result import EvaluationResult

N = 26
BEST_KNOWN = 2.635
TOLERANCE = 1e-12


def _load(program_path):
    spec = importlib.util.spec_from_file_location("program", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _real(value, shape, what):
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{what}: expected real numbers, got dtype {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"{what}: expected shape {shape}, got {array.shape}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: contains NaN or infinity")
    return array


def check(output, n=N):
    """The validated (centers, radii), or ValueError saying what is wrong."""
    if not isinstance(output, (tuple, list)) or len(output) != 2:
        raise ValueError("expected a pair (centers, radii)")
    centers = _real(output[0], (n, 2), "centers")
    radii = _real(output[1], (n,), "radii")
    if not (radii > 0).all():
        raise ValueError("every radius must be positive")
    if (centers - radii[:, None] < -TOLERANCE).any() or (centers + radii[:, None] > 1 + TOLERANCE).any():
        raise ValueError("a circle leaves the unit square")
    distances = np.sqrt(((centers[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))
    gaps = distances - (radii[:, None] + radii[None, :])
    np.fill_diagonal(gaps, np.inf)
    if (gaps < -TOLERANCE).any():
        raise ValueError(f"two circles overlap by {-gaps.min():.3g}")
    return centers, radii


def evaluate(program_path):
    try:
        _, radii = check(_load(program_path).run_packing(N))
    except Exception as exc:
        return EvaluationResult(
            metrics={"validity": 0.0, "sum_radii": 0.0, "combined_score": 0.0}, artifacts={"error": str(exc)}
        )
    total = float(radii.sum())
    return EvaluationResult(
        metrics={"validity": 1.0, "sum_radii": total, "combined_score": min(1.0, total / BEST_KNOWN)},
        artifacts={"note": "new best known" if total > BEST_KNOWN else ""},
    )
