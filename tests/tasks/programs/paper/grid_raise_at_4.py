# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)


def algorithm(t, dist):
    """Raises on one string (the 5th of the test split), returns t itself elsewhere."""
    if t == "BBAABAABBAABAA":
        raise KeyError(t)
    return t
