"""Minimise a 2-D function with many local minima (after OpenEvolve's function_minimization example).

Only the code between the EVOLVE-BLOCK markers is improved; `evaluate_function` and `run_search` are
the fixed interface the evaluator calls.
"""

import math
import random


# EVOLVE-BLOCK-START
def search_algorithm(iterations=200, bounds=(-5, 5)):
    """Pure random search: sample points uniformly and keep the best one."""
    best_x = random.uniform(bounds[0], bounds[1])
    best_y = random.uniform(bounds[0], bounds[1])
    best_value = evaluate_function(best_x, best_y)
    for _ in range(iterations):
        x = random.uniform(bounds[0], bounds[1])
        y = random.uniform(bounds[0], bounds[1])
        value = evaluate_function(x, y)
        if value < best_value:
            best_x, best_y, best_value = x, y, value
    return best_x, best_y, best_value


# EVOLVE-BLOCK-END


def evaluate_function(x, y):
    """The function to minimise on [-5, 5]^2: global minimum about -1.5187 at (-1.705, 0.675)."""
    return math.sin(x) * math.cos(y) + math.sin(x * y) + (x**2 + y**2) / 20


def run_search():
    x, y, value = search_algorithm()
    return x, y, value
