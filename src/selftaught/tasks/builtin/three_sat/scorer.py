"""Hidden scorer of three_sat (random planted 3-SAT), run in the host only.

Instance i comes from seed + i: n variables with n uniform in 5..50, m = 4n clauses of three distinct
variables with random signs, kept only if a hidden planted assignment satisfies them (so every formula
is satisfiable). The program gets the formula as a list of m clauses of three non-zero ints (literal
v means variable v is True, -v means False).
Score: 1 if the returned assignment satisfies every clause, else 0 (raised to the failure value 0.01,
the paper's epsilon, like every valid score below it). The assignment is indexed by variable number: exactly max|literal| + 1 values,
index 0 ignored, each a bool or 0/1. None (the seed's "gave up") or any other shape is invalid.
"""

import numpy as np

from selftaught.tasks import Instance, InvalidOutput, binary_vector

MIN_N = 5
MAX_N = 50
CLAUSES_PER_VARIABLE = 4


def instances(split, seed, count):
    return [_instance(seed + i) for i in range(count)]


def _instance(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(MIN_N, MAX_N + 1))
    m = CLAUSES_PER_VARIABLE * n
    planted = rng.random(n + 1) < 0.5
    chunks, missing = [], m
    while missing > 0:
        # 7 in 8 random clauses are satisfied by the planted assignment: 2x oversampling suffices.
        k = 2 * missing + 8
        variables = np.argsort(rng.random((k, n)), axis=1)[:, :3] + 1
        positive = rng.random((k, 3)) < 0.5
        kept = (planted[variables] == positive).any(axis=1)
        literals = np.where(positive, variables, -variables)[kept][:missing]
        chunks.append(literals)
        missing -= len(literals)
    literals = np.concatenate(chunks).astype(np.int64)
    return Instance(args=[literals.tolist()], hidden={"literals": literals, "planted": planted})


def score(instance, output):
    literals = instance.hidden["literals"]
    if output is None:
        raise InvalidOutput("no assignment (None)")
    n_visible = int(np.abs(literals).max())
    values = binary_vector(output, n_visible + 1, "assignment").astype(bool)
    satisfied = (values[np.abs(literals)] == (literals > 0)).any(axis=1).all()
    return 1.0 if satisfied else 0.0  # raised to the failure value 0.01, as in the paper
