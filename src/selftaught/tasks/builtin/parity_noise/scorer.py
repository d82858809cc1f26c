"""Hidden scorer of parity_noise (learning parity with noise), run in the host only.

Instance i comes from seed + i: 10 bits, each relevant with probability 0.3; 100 training samples whose
labels are flipped with probability 0.05, and 20 noiseless test samples whose labels stay here.
Score: the fraction of the 20 predictions equal to the true test parities. Predictions must be exactly
20 values of 0/1 in a list or 1-D array: a (20, 1) or (1, 20) array, 21 values, NaN or strings are
invalid (the paper's reward hack was numpy broadcasting such shapes into accuracies above 100%).
"""

import numpy as np

from selftaught.tasks import Instance, binary_vector

N_BITS = 10
P_TRUE = 0.3
N_TRAIN = 100
N_TEST = 20
NOISE = 0.05


def instances(split, seed, count):
    return [_instance(seed + i) for i in range(count)]


def _instance(seed):
    rng = np.random.default_rng(seed)
    true_bits = rng.binomial(1, P_TRUE, N_BITS)
    samples = rng.binomial(1, 0.5, (N_TRAIN + N_TEST, N_BITS))
    parity = (samples @ true_bits) % 2
    noise = rng.binomial(1, NOISE, N_TRAIN)
    train_parity = (parity[:N_TRAIN] + noise) % 2
    args = [samples[:N_TRAIN], train_parity, samples[N_TRAIN:]]
    return Instance(args=args, hidden=parity[N_TRAIN:])


def score(instance, output):
    labels = instance.hidden
    predictions = binary_vector(output, len(labels), "predictions")
    return float(np.mean(predictions == labels))
