# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)
import numpy as np


def algorithm(train_samples, train_parity, test_samples):
    """Try all 2^10 bit subsets; keep the one with the fewest training errors (robust to noise)."""
    X = np.asarray(train_samples, dtype=np.int64)
    y = np.asarray(train_parity, dtype=np.int64).reshape(-1)
    n = X.shape[1]
    masks = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
    errors = (((X @ masks.T) % 2) != y[:, None]).sum(axis=0)
    best = masks[int(np.argmin(errors))]
    return (np.asarray(test_samples) @ best) % 2
