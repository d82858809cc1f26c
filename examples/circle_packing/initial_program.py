"""Pack 26 circles in the unit square, maximising the sum of their radii (AlphaEvolve's problem).

The same problem as selftaught's built-in `circle_packing` task, in OpenEvolve's format. Only the code
between the EVOLVE-BLOCK markers evolves; `run_packing` is the fixed interface the evaluator calls.
"""

import numpy as np


# EVOLVE-BLOCK-START
def algorithm(n):
    """Centres on a grid whose odd rows are shifted; each radius as large as the walls and the
    circles placed before it allow (so the packing is valid by construction)."""
    rows = int(np.ceil(np.sqrt(n)))
    cols = int(np.ceil(n / rows))
    shift = 0.5
    centers = np.zeros((n, 2))
    for k in range(n):
        row, col = divmod(k, cols)
        offset = shift if row % 2 else 0.0
        centers[k, 0] = (col + 0.5 + offset * 0.5) / (cols + 0.25)
        centers[k, 1] = (row + 0.5) / rows
    radii = np.zeros(n)
    for i in range(n):
        x, y = centers[i]
        room = min(x, y, 1 - x, 1 - y)
        for j in range(i):
            room = min(room, np.hypot(x - centers[j, 0], y - centers[j, 1]) - radii[j])
        radii[i] = max(room * (1 - 1e-9), 1e-9)
    return centers, radii


# EVOLVE-BLOCK-END


def run_packing(n=26):
    """The evaluator's entry point: (centers, radii) for n circles."""
    return algorithm(n)
