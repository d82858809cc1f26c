# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)


def algorithm(t, dist):
    """Loops for ever on one string (the 5th of the test split), returns t itself elsewhere."""
    if t == "BBAABAABBAABAA":
        while True:
            pass
    return t
