import time

import numpy as np
from pebble import ThreadPool


def utility(algorithm_str: str):
    """Modified quadratic assignment (MQAP), n facilities and locations.

    Returns the objective value, where higher is better. The algorithm must be extremely fast: more
    than 500 milliseconds is a failure. `algorithm(F, D, P)` takes the flow, distance and preference
    matrices (numpy arrays of shape (n, n)) and returns an assignment of facilities to locations.
    """
    n_tests, n, lambda_value = 20, 15, 0.5
    average_objective = 0
    pool = ThreadPool()
    try:
        exec(algorithm_str, globals())
    except Exception:
        return 0
    for _ in range(n_tests):
        F, D, P = np.random.rand(n, n), np.random.rand(n, n), np.random.rand(n, n)
        try:
            start = time.time()
            assignment = pool.schedule(algorithm, (F, D, P)).result(timeout=0.01)
            elapsed = time.time() - start
            objective = 0
            if set(assignment) == set(range(n)):
                objective = sum(F[i, j] * D[assignment[i], assignment[j]] for i in range(n) for j in range(n))
                objective -= lambda_value * sum(P[i, assignment[i]] for i in range(n))
                objective += elapsed
            average_objective += objective / n_tests
        except Exception:
            average_objective += 0
    return average_objective
