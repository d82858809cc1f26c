"""Hidden scorer of modified_quadratic_assignment (MQAP), run in the host only.

Instance i comes from seed + i: F (flows), D (distances) and P (preferences), 15 x 15, uniform on
[0, 1). An assignment a is a permutation of range(15) (facility i goes to location a[i]); its cost is
    cost(a) = sum_ij F[i, j] * D[a[i], a[j]] - 0.5 * sum_i P[i, a[i]]
and lower is better (the seed algorithm minimises it). The original reported this cost divided by n^2,
plus the run time, as if higher were better; we score the share of the gap between a uniformly random
assignment and a reference solution that the program closes:
    score = clip((E[cost(random)] - cost(a)) / (E[cost(random)] - cost(reference)), 0, 1)
E[cost(random)] is exact (closed form). The reference is the best of 16 steepest-descent pairwise-swap
searches from seeded random starts, computed here once per instance; a program that matches or beats
it scores 1, one no better than chance scores 0. A non-permutation is invalid (score 0.01).
"""

import numpy as np

from selftaught.tasks import Instance, permutation

N = 15
LAMBDA = 0.5
REFERENCE_STARTS = 16

_I, _J = np.triu_indices(N, k=1)  # every pairwise swap


def instances(split, seed, count):
    return [_instance(seed + i) for i in range(count)]


def _instance(seed):
    rng = np.random.default_rng(seed)
    F, D, P = rng.random((3, N, N))
    baseline = _random_mean_cost(F, D, P)
    reference = _reference_cost(F, D, P, rng)
    return Instance(args=[F, D, P], hidden=(baseline, reference))


def cost(F, D, P, assignment):
    a = np.asarray(assignment)
    return float((F * D[np.ix_(a, a)]).sum() - LAMBDA * P[np.arange(len(a)), a].sum())


def _random_mean_cost(F, D, P):
    """E[cost] over uniform permutations: diagonal, off-diagonal and preference terms separately."""
    n = len(F)
    off_f = F.sum() - np.trace(F)
    off_d_mean = (D.sum() - np.trace(D)) / (n * (n - 1))
    return float(np.trace(F) * np.trace(D) / n + off_f * off_d_mean - LAMBDA * P.sum() / n)


def _costs(F, D, P, assignments):
    """Costs of a batch of assignments (k, n) at once."""
    k, n = assignments.shape
    permuted = D[assignments[:, :, None], assignments[:, None, :]]
    quadratic = (permuted * F).sum(axis=(1, 2))
    linear = P[np.arange(n), assignments].sum(axis=1)
    return quadratic - LAMBDA * linear


def _reference_cost(F, D, P, rng):
    best = np.inf
    for _ in range(REFERENCE_STARTS):
        current = rng.permutation(N)
        current_cost = _costs(F, D, P, current[None, :])[0]
        while True:
            neighbours = np.repeat(current[None, :], len(_I), axis=0)
            rows = np.arange(len(_I))
            neighbours[rows, _I], neighbours[rows, _J] = current[_J], current[_I]
            costs = _costs(F, D, P, neighbours)
            step = int(np.argmin(costs))
            if costs[step] >= current_cost - 1e-12:
                break
            current, current_cost = neighbours[step], costs[step]
        best = min(best, current_cost)
    return float(best)


def score(instance, output):
    F, D, P = instance.args
    baseline, reference = instance.hidden
    assignment = permutation(output, N)
    gap = baseline - reference
    if gap <= 0:
        return 1.0
    return float(np.clip((baseline - cost(F, D, P, assignment)) / gap, 0.0, 1.0))
