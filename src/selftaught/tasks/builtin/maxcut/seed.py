def algorithm(adjacency_matrix):
    """Greedy: repeatedly place the unplaced node, on the side, that cuts the most weight so far."""
    n = len(adjacency_matrix)
    side = [None] * n
    remaining = set(range(n))
    while remaining:
        best_gain, best_node, best_side = -1.0, None, None
        for node in remaining:
            row = adjacency_matrix[node]
            weight_to = [0.0, 0.0]  # weight from `node` to the placed nodes on side 0 and on side 1
            for other in range(n):
                if side[other] is not None:
                    weight_to[side[other]] += row[other]
            for candidate in (0, 1):
                gain = weight_to[1 - candidate]
                if gain > best_gain:
                    best_gain, best_node, best_side = gain, node, candidate
        side[best_node] = best_side
        remaining.remove(best_node)
    return side
