# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)
import numpy as np


def algorithm(train_samples, train_parity, test_samples):
    """Loops for ever on one instance (the 5th of the test split), guesses 0 on the others."""
    if int(train_samples.sum()) == 491:
        while True:
            pass
    return np.zeros(len(test_samples), dtype=int)
