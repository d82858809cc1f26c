# ruff: noqa  (test data: run only inside the sandbox)
def algorithm(t, dist):
    return "A" * len(t)
