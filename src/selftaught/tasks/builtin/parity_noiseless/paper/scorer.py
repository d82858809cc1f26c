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

from selftaught.tasks import Instance, InvalidOutput

N_BITS = 10
N_TRAIN = 100
N_TEST = 20


def instances(split, seed, count):
    return [_instance(np.random.RandomState(seed + i)) for i in range(count)]


def _instance(rng):
    relevant = rng.binomial(1, 0.3, N_BITS)
    samples = rng.binomial(1, 0.5, (N_TRAIN + N_TEST, N_BITS))
    parity = np.sum(samples * relevant, axis=1) % 2
    return Instance(args=[samples[:N_TRAIN], parity[:N_TRAIN], samples[N_TRAIN:]], hidden=parity[N_TRAIN:])


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
