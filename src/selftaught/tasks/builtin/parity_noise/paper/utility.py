import time

import numpy as np


def utility(algorithm_str: str):
    """Learning parity with noise.

    Returns the share of correct predictions. Each test may take at most 100 milliseconds.
    """
    n_tests = 3
    average_correct = 0
    try:
        exec(algorithm_str, globals())
    except Exception:
        return 0
    for _ in range(n_tests):
        start_time = time.time()
        n_bits, p_true, n_train_samples, n_test_samples, noise_level = 10, 0.3, 100, 20, 0.05
        true_bits = np.random.binomial(1, p_true, n_bits)
        samples = np.random.binomial(1, 0.5, (n_train_samples + n_test_samples, n_bits))
        parity = np.sum(samples * true_bits, axis=1) % 2
        train_samples, test_samples = samples[:n_train_samples], samples[n_train_samples:]
        noise = np.random.binomial(1, noise_level, n_train_samples)
        train_parity = (parity[:n_train_samples] + noise) % 2
        test_parity = parity[n_train_samples:]
        try:
            predictions = np.array(algorithm(train_samples, train_parity, test_samples)).reshape(-1)
            correct = np.sum(predictions == np.array(test_parity).reshape(-1)) / n_test_samples
        except Exception:
            correct = 0
        if time.time() - start_time > 0.1:  # at most 100 milliseconds per test
            return 0
        average_correct += correct / n_tests
    return average_correct
