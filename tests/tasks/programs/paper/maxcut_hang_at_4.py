# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)


def algorithm(adjacency_matrix):
    """Loops for ever on the 155-node graph (the 5th of the test split), alternates elsewhere."""
    n = len(adjacency_matrix)
    if n == 155:
        while True:
            pass
    return [i % 2 for i in range(n)]
