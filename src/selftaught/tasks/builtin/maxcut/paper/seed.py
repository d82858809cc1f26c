def algorithm(adjacency_matrix):
    """Greedy, node by node: place the unplaced node, on the side, that cuts the most weight so far.

    For each candidate node and each side it sums the weights to the neighbours already on the other
    side (-1 marks an unplaced node); ties keep the first found.
    """
    n = len(adjacency_matrix)
    partition = [-1] * n
    unplaced = set(range(n))
    while unplaced:
        best_weight, best_node, best_side = -1, None, None
        for node in unplaced:
            for side in (0, 1):
                weight = 0
                for neighbour, w in enumerate(adjacency_matrix[node]):
                    if partition[neighbour] == 1 - side:
                        weight += w
                if weight > best_weight:
                    best_weight, best_node, best_side = weight, node, side
        partition[best_node] = best_side
        unplaced.remove(best_node)
    return partition
