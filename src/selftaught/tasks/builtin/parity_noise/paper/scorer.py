"""parity_noise under the paper protocol: the original code's instances and scoring (facts, our code).

Instance i: numpy's legacy generator seeded with seed + i draws the relevant bits (binomial, p 0.3,
10 bits), 120 uniform samples (100 train, 20 test), and then train-label noise (binomial, p 0.05,
100 flips); labels are the parity of the relevant bits. Scoring, as the original: predictions and
labels are both flattened (`np.array(x).reshape(-1)`) and compared with `==`, accuracy = matches / 20
(a single prediction broadcasts against all 20 labels). A call that raises, runs past 2 s, or whose
output cannot be compared makes the *whole* utility EPS = 1e-6. Utility: the mean accuracy over 20
(validation) or 50 (test) instances; a program that cannot be defined scores 0.
"""

import numpy as np

from selftaught.tasks import Instance, InvalidOutput

EPS = 1e-6
N_BITS = 10
N_TRAIN = 100
N_TEST = 20


def instances(split, seed, count):
    return [_instance(np.random.RandomState(seed + i)) for i in range(count)]


def _instance(rng):
    relevant = rng.binomial(1, 0.3, N_BITS)
    samples = rng.binomial(1, 0.5, (N_TRAIN + N_TEST, N_BITS))
    parity = np.sum(samples * relevant, axis=1) % 2
    noise = rng.binomial(1, 0.05, N_TRAIN)
    train_parity = (parity[:N_TRAIN] + noise) % 2
    return Instance(args=[samples[:N_TRAIN], train_parity, samples[N_TRAIN:]], hidden=parity[N_TRAIN:])


def score(instance, output):
    try:
        predictions = np.array(output).reshape(-1)
        return float(np.sum(predictions == np.array(instance.hidden).reshape(-1)) / N_TEST)
    except Exception as exc:
        raise InvalidOutput(f"comparing the predictions raised {type(exc).__name__}") from None


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
