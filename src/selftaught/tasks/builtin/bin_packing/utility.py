import math

import numpy as np


def utility(algorithm_str: str) -> float:
    """Online bin packing (FunSearch). Returns the mean over 5 instances of L1 bound / bins used, in (0, 1].

    Your code must define `priority(item, bins)`: `item` is an int, `bins` a 1-D numpy int array of the
    remaining capacities of the open bins that can take the item (never empty). Return exactly one
    finite priority per bin (a list or 1-D array of len(bins)); the item goes to the bin with the
    highest priority (the first on a tie). When no open bin can take an item, a new bin is opened
    without asking you. Items arrive one at a time and you never see the ones to come: the packing is
    simulated outside your process (your code runs in an isolated sandbox) and every answer is checked.
    Validation: capacity 150, 500 items uniform in [20, 100]. Score = ceil(total size / capacity) /
    bins used. A wrong-shaped or non-finite answer, an exception, or more than 60 seconds (wall clock,
    the whole instance, including the round trips) for one instance scores 0 for that instance.
    """
    exec(algorithm_str, globals())  # defines `priority`
    n_tests, capacity = 5, 150
    total = 0.0
    for _ in range(n_tests):
        items = np.random.randint(20, 101, size=500)
        remaining = []  # of the open bins
        for item in items:
            fits = [i for i, room in enumerate(remaining) if room >= item]
            if not fits:
                remaining.append(capacity - item)
                continue
            scores = np.asarray(priority(int(item), np.array([remaining[i] for i in fits])), dtype=float)
            assert scores.shape == (len(fits),) and np.isfinite(scores).all()
            remaining[fits[int(np.argmax(scores))]] -= item
        total += math.ceil(items.sum() / capacity) / len(remaining)
    return total / n_tests
