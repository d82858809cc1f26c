# ruff: noqa  (test data: run only inside the sandbox)
import numpy as np


def algorithm(train_samples, train_parity, test_samples):
    return np.zeros((len(test_samples), 1), dtype=int)
