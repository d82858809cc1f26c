"""Scores an online bin-packing priority function (OpenEvolve evaluator format).

Five OR-style instances (capacity 150, 500 integer items uniform in [20, 100], drawn with numpy's
default_rng from seeds 4321..4325: the same items as the validation split of selftaught's built-in
`bin_packing`). The program's fixed `pack(items, capacity)` packs them online with the evolved
`priority` and returns the bin of every item; this evaluator checks the packing (one bin index per
item, no bin over capacity) and counts the bins itself. combined_score = mean over instances of
ceil(total size / capacity) / bins used, in (0, 1]; `excess_pct` is FunSearch's excess-bins percentage.
A malformed packing or an exception scores 0.

Here "online" rests on the fixed `pack` loop (the candidate receives the whole list in one call, as in
FunSearch's own specification); selftaught's built-in task enforces it: the host simulates the packing
and the program only ever holds the current item.
"""

import importlib.util
import math

import numpy as np
from openevolve.evaluation_result import EvaluationResult

CAPACITY = 150
SEEDS = (4321, 4322, 4323, 4324, 4325)


def _load(program_path):
    spec = importlib.util.spec_from_file_location("program", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def instance(seed):
    return np.random.default_rng(seed).integers(20, 101, size=500).tolist()


def bins_used(items, assignment, capacity=CAPACITY):
    """The number of bins of a checked packing; ValueError if it is not one."""
    if not isinstance(assignment, (list, tuple)) or len(assignment) != len(items):
        raise ValueError(f"expected one bin index per item ({len(items)})")
    if not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in assignment):
        raise ValueError("bin indices must be non-negative integers")
    loads = {}
    for item, chosen in zip(items, assignment, strict=True):
        loads[chosen] = loads.get(chosen, 0) + item
    if max(loads.values()) > capacity:
        raise ValueError("a bin is over capacity")
    return len(loads)


def evaluate(program_path):
    try:
        module = _load(program_path)
        ratios, excess = [], []
        for seed in SEEDS:
            items = instance(seed)
            bound = math.ceil(sum(items) / CAPACITY)
            bins = bins_used(items, module.pack(items, CAPACITY))
            ratios.append(bound / bins)
            excess.append(100.0 * (bins - bound) / bound)
    except Exception as exc:
        return EvaluationResult(
            metrics={"excess_pct": 100.0, "combined_score": 0.0}, artifacts={"error": str(exc)}
        )
    return {"excess_pct": sum(excess) / len(excess), "combined_score": sum(ratios) / len(ratios)}
