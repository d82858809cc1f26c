# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)


def algorithm(formula):
    """Loops for ever on the 124-clause formula (the 5th of the test split), all true elsewhere."""
    if len(formula) == 124:
        while True:
            pass
    return [True] * (max(abs(lit) for clause in formula for lit in clause) + 1)
