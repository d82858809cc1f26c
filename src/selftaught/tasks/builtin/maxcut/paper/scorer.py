"""maxcut under the paper protocol: the original code's instances and scoring (facts, our code).

Instance i: Python's `random` seeded with seed + i draws n in 50..200; then for each pair i < j in
order, an edge with probability 0.4 (`random() < 0.4`) of integer weight `randint(1, 10)`, in a
float64 matrix. Scoring, as the original: each instance adds cut weight / 100 / 10, so the utility is
the mean cut weight divided by the maximum edge weight 10 (hundreds, not a share in [0, 1]). A call
that raises or runs past 0.1 s makes the *whole* utility EPS; an output whose length is not n makes
it 0; an output the cut count cannot read makes it EPS. At each of these the original returned, so
the later instances are not run (`stops`). A program that cannot be defined scores EPS.
"""

import random

import numpy as np

from selftaught.tasks import Instance, InvalidOutput

EPS = 1e-2
MAX_WEIGHT = 10
N_TESTS = 100


class WrongLength(InvalidOutput):
    """The original returned 0 (not epsilon) for a partition of the wrong length."""


def instances(split, seed, count):
    return [_instance(random.Random(seed + i)) for i in range(count)]


def _instance(rng):
    n = rng.randint(50, 200)
    matrix = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            if rng.random() < 0.4:
                matrix[i, j] = matrix[j, i] = rng.randint(1, MAX_WEIGHT)
    return Instance(args=[matrix])


def cut_weight(matrix, partition):
    """Sum of w[i, j] over i < j with partition[i] != partition[j], the original's comparison."""
    n = len(matrix)
    try:
        if len(partition) != n:
            raise WrongLength(f"{len(partition)} labels for {n} nodes")
        labels = _plain_numbers(partition)
        if labels is not None:  # same comparisons, vectorised: plain numbers compare exactly as floats
            differ = labels[:, None] != labels[None, :]
            return float(np.triu(matrix * differ, 1).sum())
        total = 0.0
        for i in range(n):
            for j in range(i + 1, n):
                if partition[i] != partition[j]:
                    total += matrix[i, j]
        return total
    except InvalidOutput:
        raise
    except Exception as exc:
        raise InvalidOutput(f"counting the cut raised {type(exc).__name__}") from None


def _plain_numbers(partition):
    items = list(partition) if isinstance(partition, list | tuple | np.ndarray) else None
    if items is None or not all(
        isinstance(x, bool | int | float | np.integer | np.floating | np.bool_) for x in items
    ):
        return None
    if any(isinstance(x, int) and not isinstance(x, bool) and abs(x) > 2**53 for x in items):
        return None
    return np.array([float(x) for x in items])


def score(instance, output):
    return cut_weight(instance.args[0], output) / MAX_WEIGHT


def stops(instance, call):
    """Where the original returned early: a call that failed, or an output of the wrong length or one
    the cut count cannot read."""
    if call.failure is not None:
        return True
    try:
        cut_weight(instance.args[0], call.output)
    except InvalidOutput:
        return True
    return False


def utility(instances, calls):
    if calls is None:
        return EPS
    total = 0.0
    for instance, call in zip(instances, calls):
        if call.failure is not None:
            return EPS
        try:
            total += cut_weight(instance.args[0], call.output) / N_TESTS / MAX_WEIGHT
        except WrongLength:
            return 0.0
        except InvalidOutput:
            return EPS
    return max(total, EPS)
