# ruff: noqa  (test data: run only inside the sandbox)
def algorithm(adjacency_matrix):
    return [i % 2 for i in range(len(adjacency_matrix) - 1)]
