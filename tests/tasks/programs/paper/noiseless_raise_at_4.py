# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)
import numpy as np


def algorithm(train_samples, train_parity, test_samples):
    """Raises on one instance (the 5th of the test split), guesses 0 on the others."""
    if int(train_samples.sum()) == 491:
        raise ValueError("no parity found")
    return np.zeros(len(test_samples), dtype=int)
