"""parity_noise under the paper protocol: the original code's instances and scoring (facts, our code).

Instance i: numpy's legacy generator seeded with seed + i draws the relevant bits (binomial, p 0.3,
10 bits), 120 uniform samples (100 train, 20 test), and then train-label noise (binomial, p 0.05,
100 flips); labels are the parity of the relevant bits. Scoring, as the original: predictions and
labels are both flattened (`np.array(x).reshape(-1)`) and compared with `==`, accuracy = matches / 20
(a single prediction broadcasts against all 20 labels). A call that raises, runs past 2 s, or whose
output cannot be compared makes the *whole* utility EPS = 1e-6, and the original ran no further
instance (`stops`: the later ones are not run here either). Utility: the mean accuracy over 20
(validation) or 50 (test) instances; a program that cannot be defined scores 0.
"""

import numpy as np

from selftaught.tasks import InvalidOutput
from selftaught.tasks.parity import N_TEST, paper_parity_instance

EPS = 1e-6


def instances(split, seed, count):
    return [paper_parity_instance(seed + i, 0.05) for i in range(count)]


def score(instance, output):
    try:
        predictions = np.array(output).reshape(-1)
        return float(np.sum(predictions == np.array(instance.hidden).reshape(-1)) / N_TEST)
    except Exception as exc:
        raise InvalidOutput(f"comparing the predictions raised {type(exc).__name__}") from None


def stops(instance, call):
    """Where the original returned early: at a call that failed or whose output could not be compared."""
    if call.failure is not None:
        return True
    try:
        score(instance, call.output)
    except InvalidOutput:
        return True
    return False


def utility(instances, calls):
    if calls is None:
        return 0.0
    total = 0.0
    for instance, call in zip(instances, calls):
        if call.failure is not None:
            return EPS
        try:
            total += score(instance, call.output) / len(instances)
        except InvalidOutput:
            return EPS
    return total
