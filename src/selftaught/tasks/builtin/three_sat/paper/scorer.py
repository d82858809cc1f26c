"""three_sat under the paper protocol: the original code's instances and scoring (facts, our code).

Instance i: Python's `random` seeded with seed + i draws n in 5..50 (m = 4n), a planted assignment
(one `random()` per variable), then up to m^2 candidate clauses (3 distinct variables by `sample`,
each negated with probability 1/2), keeping those the planted assignment satisfies until m are kept;
the kept clauses are shuffled. Scoring, as the original: a solved formula adds 1, an unsolved one
adds EPS, a call past the 0.1 s limit adds nothing; a call that raises, or an output the check
cannot even read (None, too short, wrong types), makes the *whole* utility EPS, and the original ran
no further instance (`stops`: nor does this). Utility: the total
/ 30, at least EPS; a program that cannot be defined scores EPS.
"""

import random

from selftaught.tasks import Instance, InvalidOutput

EPS = 1e-2


def instances(split, seed, count):
    return [_instance(random.Random(seed + i)) for i in range(count)]


def _instance(rng):
    n = rng.randint(5, 50)
    m = 4 * n
    planted = [False] + [rng.random() < 0.5 for _ in range(n)]
    formula = []
    for _ in range(m * m):
        clause = [v if rng.random() < 0.5 else -v for v in rng.sample(range(1, n + 1), 3)]
        if any(planted[abs(lit)] == (lit > 0) for lit in clause):
            formula.append(clause)
        if len(formula) == m:
            break
    rng.shuffle(formula)
    return Instance(args=[formula], hidden=planted)


def satisfied(formula, assignment):
    """The original check, in its order (it stops at the first unsatisfied clause); InvalidOutput if
    reading the output fails, as it raised there."""
    try:
        return all(any((assignment[abs(lit)] > 0) == (lit > 0) for lit in clause) for clause in formula)
    except Exception as exc:
        raise InvalidOutput(f"the check raised {type(exc).__name__}") from None


def score(instance, output):
    return 1.0 if satisfied(instance.args[0], output) else EPS


def stops(instance, call):
    """Where the original returned early: a call that raised (not one past the limit), or an output
    the check cannot read."""
    if call.failure == "timeout":
        return False
    if call.failure is not None:
        return True
    try:
        satisfied(instance.args[0], call.output)
    except InvalidOutput:
        return True
    return False


def utility(instances, calls):
    if calls is None:
        return EPS
    total = 0.0
    for instance, call in zip(instances, calls):
        if call.failure == "timeout":
            continue
        if call.failure is not None:
            return EPS
        try:
            total += score(instance, call.output)
        except InvalidOutput:
            return EPS
    return max(total / len(instances), EPS)
