import random


def utility(algorithm_str: str) -> float:
    """Random 3-SAT. Returns the fraction of 30 formulas solved (an unsolved formula counts 0.01).

    Your code must define `algorithm(formula)`. `formula` is a list of m clauses, each a list of three
    non-zero ints: literal v means "variable v is True", -v means "variable v is False". Every formula
    is satisfiable. Return the assignment as a list indexed by variable number: exactly
    max(abs(lit)) + 1 values, index 0 ignored, each a bool (or 0/1). None or any other length is invalid.
    The algorithm must be fast: each call may take at most 100 milliseconds (wall clock, measured
    outside your process; your code runs in an isolated sandbox). An instance whose call raises, times
    out or returns an invalid or non-satisfying assignment scores 0.01; the other instances still count.
    """
    exec(algorithm_str, globals())  # defines `algorithm`
    n_tests = 30
    score = 0.0
    for _ in range(n_tests):
        n = random.randint(5, 50)  # number of variables
        m = 4 * n  # number of clauses
        planted = [None] + [random.random() < 0.5 for _ in range(n)]
        formula = []
        while len(formula) < m:
            clause = [v if random.random() < 0.5 else -v for v in random.sample(range(1, n + 1), 3)]
            if any(planted[abs(lit)] == (lit > 0) for lit in clause):  # keep it satisfiable
                formula.append(clause)
        assignment = algorithm(formula)
        solved = all(any(assignment[abs(lit)] == (lit > 0) for lit in clause) for clause in formula)
        score += 1.0 if solved else 0.01
    return score / n_tests
