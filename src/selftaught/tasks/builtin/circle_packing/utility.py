import numpy as np

BEST_KNOWN = {26: 2.635, 32: 2.937}


def utility(algorithm_str: str) -> float:
    """Circle packing: n circles in the unit square, maximise the sum of their radii. Score in [0, 1].

    Your code must define `algorithm(n)` returning `(centers, radii)`: centers of shape exactly (n, 2),
    radii of shape exactly (n,) (not (n, 1)), as numpy arrays or nested lists of real numbers.
    The packing is valid only if every value is finite, every radius is positive, every circle lies
    inside the unit square [0, 1] x [0, 1] and no two circles overlap, with no tolerance beyond 1e-12
    (float rounding when circles touch). An invalid packing scores 0.
    Score = min(1, sum of radii / best known sum): 2.635 for n = 26. The call may take at most
    10 seconds (wall clock, measured outside your process; your code runs in an isolated sandbox).
    Validation uses n = 26; the held-out test uses n = 32, so a hard-coded packing for 26 will not
    help there: write a construction or an optimiser that works for any n.
    """
    exec(algorithm_str, globals())  # defines `algorithm`
    n = 26
    centers, radii = algorithm(n)
    centers, radii = np.asarray(centers, dtype=float), np.asarray(radii, dtype=float)
    assert centers.shape == (n, 2) and radii.shape == (n,)
    assert np.isfinite(centers).all() and np.isfinite(radii).all() and (radii > 0).all()
    tol = 1e-12
    assert (centers - radii[:, None] >= -tol).all() and (centers + radii[:, None] <= 1 + tol).all()
    for i in range(n):
        for j in range(i + 1, n):
            assert np.hypot(*(centers[i] - centers[j])) >= radii[i] + radii[j] - tol
    return min(1.0, float(radii.sum()) / BEST_KNOWN[n])
