"""parity_noiseless under the paper protocol: the original code's instances and scoring (facts, our code).

Instance i: numpy's legacy generator seeded with seed + i draws the relevant bits (binomial, p 0.3,
10 bits) and 120 uniform samples (100 train, 20 test); labels are exact parities. Scoring, as the
original: `np.sum(output == labels) / 20` with the output *as returned*: no flattening, no shape
check, so a (20, 1) array broadcasts to 400 comparisons and can score up to 20 (the paper's "over
1000%"). A call that raises (or, here, runs past the 10 s backstop: the original had no limit) or
whose output cannot be compared scores 0 for that instance only. Utility: the mean over 20 instances;
a program that cannot be defined scores 0.
"""

import numpy as np

from selftaught.tasks import InvalidOutput
from selftaught.tasks.parity import N_TEST, paper_parity_instance


def instances(split, seed, count):
    return [paper_parity_instance(seed + i, 0.0) for i in range(count)]


def score(instance, output):
    try:
        return float(np.sum(output == instance.hidden) / N_TEST)
    except Exception as exc:
        raise InvalidOutput(f"comparing the predictions raised {type(exc).__name__}") from None


def utility(instances, calls):
    if calls is None:
        return 0.0
    total = 0.0
    for instance, call in zip(instances, calls):
        if call.failure is None:
            try:
                total += score(instance, call.output) / len(instances)
            except InvalidOutput:
                pass
    return total
