# ruff: noqa  (test data: run only inside the sandbox)
def algorithm(formula):
    n = max(abs(lit) for clause in formula for lit in clause)
    return [True] * (n + 1)
