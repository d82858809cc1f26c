"""Learning parity (with or without label noise): the hidden instance generator and scorer shared by the
built-in `parity_noise` and `parity_noiseless` task directories, which differ only in the noise rate.

Instance i comes from seed + i: 10 bits, each relevant with probability 0.3; 100 training samples whose
labels are flipped with probability `noise`, and 20 noiseless test samples whose labels stay in the host.
Score: the fraction of the 20 predictions equal to the true test parities. Predictions must be exactly
20 values of 0/1 in a list or 1-D array: a (20, 1) or (1, 20) array, 21 values, NaN or strings are
invalid (the paper's reward hack was numpy broadcasting such shapes into accuracies above 100%).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from selftaught.tasks.host_scored import Instance
from selftaught.tasks.validation import binary_vector

N_BITS = 10
P_TRUE = 0.3
N_TRAIN = 100
N_TEST = 20


def parity_instance(seed: int, noise: float) -> Instance:
    rng = np.random.default_rng(seed)
    true_bits = rng.binomial(1, P_TRUE, N_BITS)
    samples = rng.binomial(1, 0.5, (N_TRAIN + N_TEST, N_BITS))
    parity = (samples @ true_bits) % 2
    flips = rng.binomial(1, noise, N_TRAIN)
    train_parity = (parity[:N_TRAIN] + flips) % 2
    return Instance(args=[samples[:N_TRAIN], train_parity, samples[N_TRAIN:]], hidden=parity[N_TRAIN:])


def paper_parity_instance(seed: int, noise: float) -> Instance:
    """The original code's instance (paper protocol): numpy's legacy generator seeded with `seed`,
    drawing the relevant bits, the 120 samples and then the train-label flips, in that order (with
    noise 0 the flips are all zero, so the noiseless task gets the original's instances too)."""
    rng = np.random.RandomState(seed)
    relevant = rng.binomial(1, P_TRUE, N_BITS)
    samples = rng.binomial(1, 0.5, (N_TRAIN + N_TEST, N_BITS))
    parity = np.sum(samples * relevant, axis=1) % 2
    flips = rng.binomial(1, noise, N_TRAIN)
    train_parity = (parity[:N_TRAIN] + flips) % 2
    return Instance(args=[samples[:N_TRAIN], train_parity, samples[N_TRAIN:]], hidden=parity[N_TRAIN:])


def parity_score(instance: Instance, output: Any) -> float:
    labels = instance.hidden
    predictions = binary_vector(output, len(labels), "predictions")
    return float(np.mean(predictions == labels))
