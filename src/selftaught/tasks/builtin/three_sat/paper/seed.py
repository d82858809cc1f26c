import random


def algorithm(formula):
    """WalkSAT-style random walk: at most 1000 flips, noise probability 0.4."""
    return random_walk(formula, max_iter=1000, p=0.4)


def is_true(assignment, literal):
    return assignment[abs(literal)] == (literal > 0)


def random_walk(formula, max_iter, p):
    n_vars = max(abs(literal) for clause in formula for literal in clause)
    assignment = [False] * (n_vars + 1)  # indexed by variable number; index 0 unused
    for _ in range(max_iter):
        unsatisfied = [clause for clause in formula if not any(is_true(assignment, lit) for lit in clause)]
        if not unsatisfied:
            return assignment
        clause = random.choice(unsatisfied)
        if random.random() < p:
            literal = random.choice(clause)
        else:
            # Greedy step: the literal of the clause that is true in the fewest clauses.
            def support(lit):
                return sum(1 for other in formula if lit in other and is_true(assignment, lit))

            literal = min(clause, key=support)
        assignment[abs(literal)] = not assignment[abs(literal)]
    return None  # gave up
