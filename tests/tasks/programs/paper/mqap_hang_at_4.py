# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)


def algorithm(F, D, P):
    """Loops for ever on one instance (the 5th of the test split), the identity elsewhere."""
    if round(float(F[0, 0]), 6) == 0.555967:
        while True:
            pass
    return list(range(len(F)))
