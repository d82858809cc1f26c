"""Online bin packing heuristic (FunSearch's problem): a priority for each bin that can take the item.

The same problem as selftaught's built-in `bin_packing` task, in OpenEvolve's format. Only `priority`,
between the EVOLVE-BLOCK markers, evolves; `pack` is the fixed online loop the evaluator calls once per
instance: it offers the items one at a time and never shows `priority` the list.
"""

import numpy as np


# EVOLVE-BLOCK-START
def priority(item, bins):
    """Best fit: prefer the bin the item fills most tightly."""
    return -(bins - item)


# EVOLVE-BLOCK-END


def pack(items, capacity):
    """Pack `items` online; returns the bin index of each item (bins numbered in opening order)."""
    remaining = []
    assignment = []
    for item in items:
        fits = [i for i, room in enumerate(remaining) if room >= item]
        if not fits:
            remaining.append(capacity - item)
            assignment.append(len(remaining) - 1)
            continue
        scores = np.asarray(priority(item, np.array([remaining[i] for i in fits])), dtype=float)
        if scores.shape != (len(fits),) or not np.isfinite(scores).all():
            raise ValueError(f"priority must return {len(fits)} finite numbers, got shape {scores.shape}")
        chosen = fits[int(np.argmax(scores))]
        remaining[chosen] -= item
        assignment.append(chosen)
    return assignment
