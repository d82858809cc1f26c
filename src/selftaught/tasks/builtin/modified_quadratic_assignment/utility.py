import numpy as np


def utility(algorithm_str: str) -> float:
    """Modified quadratic assignment (n = 15). Returns the mean score over 10 instances, in [0, 1].

    Your code must define `algorithm(F, D, P)`: flow, distance and preference matrices, numpy arrays of
    shape (15, 15) with entries uniform in [0, 1). Return an assignment: a permutation of range(15) as
    a list or 1-D integer array (facility i goes to location assignment[i]). Its cost, to MINIMISE, is
        cost = sum_ij F[i, j] * D[a[i], a[j]] - 0.5 * sum_i P[i, a[i]]
    The score of an instance is the share of the gap between a uniformly random assignment (on
    average) and a strong reference solution that your assignment closes, clipped to [0, 1]: 0 means
    no better than random, 1 means as good as the reference or better.
    Each call may take at most 500 milliseconds (wall clock, measured outside your process; your code
    runs in an isolated sandbox). An instance whose call raises, times out or returns anything but a
    permutation of range(15) scores 0.01; the other instances still count.
    """
    exec(algorithm_str, globals())  # defines `algorithm`
    n, n_tests, lambda_value = 15, 10, 0.5

    def cost(F, D, P, a):
        return sum(F[i, j] * D[a[i], a[j]] for i in range(n) for j in range(n)) - lambda_value * sum(
            P[i, a[i]] for i in range(n)
        )

    total = 0.0
    for _ in range(n_tests):
        F, D, P = np.random.rand(n, n), np.random.rand(n, n), np.random.rand(n, n)
        assignment = algorithm(F, D, P)
        assert sorted(assignment) == list(range(n))
        random_cost = np.mean([cost(F, D, P, np.random.permutation(n)) for _ in range(10000)])
        reference_cost = strong_local_search_cost(F, D, P)  # hidden; not available to you
        gap_closed = (random_cost - cost(F, D, P, assignment)) / (random_cost - reference_cost)
        total += min(1.0, max(0.0, gap_closed))
    return total / n_tests
