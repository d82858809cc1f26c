# ruff: noqa  (test data: run only inside the sandbox)
def algorithm(F, D, P):
    return list(range(len(F)))
