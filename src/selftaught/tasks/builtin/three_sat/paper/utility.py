import random

from pebble import ThreadPool


def generate_3sat_formula(n, m):
    """A random 3-SAT formula with n variables and m clauses, satisfiable by a hidden assignment."""
    hidden = [False] + [random.random() < 0.5 for _ in range(n)]
    formula = []
    while len(formula) < m:
        clause = [v if random.random() < 0.5 else -v for v in random.sample(range(1, n + 1), 3)]
        if any(hidden[abs(lit)] == (lit > 0) for lit in clause):
            formula.append(clause)
    return formula


def check_3sat_formula(formula, assignment):
    return all(any((assignment[abs(lit)] > 0) == (lit > 0) for lit in clause) for clause in formula)


def utility(algorithm_str: str):
    """Random 3-SAT with n variables and m clauses.

    Returns the fraction of formulas solved within the time limit. The algorithm must be extremely
    fast: more than 10 milliseconds counts as a failure. `algorithm(formula)` takes a list of m
    clauses of 3 literals each (v or -v for variable v) and returns an assignment indexed by variable.
    """
    n_tests, n = 100, 50
    m = 4 * n
    solved = 0
    pool = ThreadPool()
    try:
        exec(algorithm_str, globals())
    except Exception:
        return 0
    for _ in range(n_tests):
        formula = generate_3sat_formula(n, m)
        try:
            assignment = pool.schedule(algorithm, (formula,)).result(timeout=0.01)
            if check_3sat_formula(formula, assignment):
                solved += 1
        except Exception:
            return 0
    return solved / n_tests
