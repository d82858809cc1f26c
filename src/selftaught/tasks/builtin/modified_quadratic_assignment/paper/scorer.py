"""MQAP under the paper protocol: the original code's instances and scoring (facts, our code).

Instance i: numpy's legacy generator seeded with seed + i draws F, D and P, each 15 x 15 uniform in
[0, 1), in that order. Scoring, as the original: a call whose output, as a set, is {0, ..., 14}
scores sum_ij F[i,j] D[a_i,a_j] - 0.5 sum_i P[i,a_i] *plus its run time in seconds* (the objective
is a cost, yet the original reports it as "higher is better"); any other output, a call that raises
or runs past 0.5 s scores 0. Utility: the mean over the 10 instances / 225 (n squared), at least
EPS; a program that cannot be defined scores EPS. The run time here is the call's CPU time as the
sandbox measures it (the limit's clock), the original measured its thread pool's wall time: both lie
within the 0.5 s limit, so the utilities differ by at most 0.5 / 225 = 0.0022.
"""

import numpy as np

from selftaught.tasks import Instance, InvalidOutput

EPS = 1e-2
N = 15
WEIGHT = 0.5


def instances(split, seed, count):
    return [_instance(np.random.RandomState(seed + i)) for i in range(count)]


def _instance(rng):
    F = rng.rand(N, N)
    D = rng.rand(N, N)
    P = rng.rand(N, N)
    return Instance(args=[F, D, P])


def objective(F, D, P, a):
    """The original's objective (a cost), summed in its order; 0 for an output that is not, as a set,
    {0, ..., n - 1}; InvalidOutput when reading the output raises (the original then scored 0)."""
    try:
        if set(a) != set(range(N)):
            return 0.0
        value = sum(F[i, j] * D[a[i], a[j]] for i in range(N) for j in range(N))
        return value - WEIGHT * sum(P[i, a[i]] for i in range(N))
    except Exception as exc:
        raise InvalidOutput(f"reading the assignment raised {type(exc).__name__}") from None


def score(instance, output):
    return objective(*instance.args, output) / (N * N)


def utility(instances, calls):
    if calls is None:
        return EPS
    total = 0.0
    for instance, call in zip(instances, calls):
        if call.failure is not None or not _valid(call.output):
            continue  # the original added 0
        try:
            value = objective(*instance.args, call.output)
        except InvalidOutput:
            continue
        total += (value + call.seconds) / len(instances)
    return max(total / (N * N), EPS)


def _valid(output):
    try:
        return set(output) == set(range(N))
    except Exception:
        return False
