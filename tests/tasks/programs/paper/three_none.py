# ruff: noqa  (test data: run only inside the sandbox)
def algorithm(formula):
    return None
