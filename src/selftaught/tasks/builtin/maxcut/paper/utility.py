import random

import numpy as np


def utility(algorithm_str: str):
    """Max-Cut. Returns the average cut weight.

    If the algorithm needs more than 100 milliseconds per test, it is a failure.
    `algorithm(adjacency_matrix)` returns one partition label per node; exactly two labels are expected.
    """
    n_tests, n_nodes, p_edge, max_weight = 3, 300, 0.4, 10
    average_cut_weight = 0
    try:
        exec(algorithm_str, globals())
    except Exception:
        return 0
    for _ in range(n_tests):
        adjacency_matrix = np.zeros((n_nodes, n_nodes))
        for i in range(n_nodes):
            for j in range(i + 1, n_nodes):
                if random.random() < p_edge:
                    adjacency_matrix[i, j] = adjacency_matrix[j, i] = random.randint(1, max_weight)
        try:
            partition = algorithm(adjacency_matrix)
            if len(set(partition)) != 2 or len(partition) != n_nodes:
                return 0
            cut_weight = sum(adjacency_matrix[i, j] for i in range(n_nodes) for j in range(i + 1, n_nodes)
                             if partition[i] != partition[j])
        except Exception:
            cut_weight = 0
        average_cut_weight += cut_weight / n_tests / max_weight
    return average_cut_weight
