import numpy as np


def utility(algorithm_str: str):
    """Learning parity without noise.

    Returns the share of correct predictions.
    """
    n_tests = 3
    average_correct = 0
    try:
        exec(algorithm_str, globals())
    except Exception:
        return 0
    for _ in range(n_tests):
        n_bits, p_true, n_train_samples, n_test_samples = 10, 0.3, 80, 20
        true_bits = np.random.binomial(1, p_true, n_bits)
        samples = np.random.binomial(1, 0.5, (n_train_samples + n_test_samples, n_bits))
        parity = np.sum(samples * true_bits, axis=1) % 2
        train_samples, train_parity = samples[:n_train_samples], parity[:n_train_samples]
        test_samples, test_parity = samples[n_train_samples:], parity[n_train_samples:]
        try:
            predictions = algorithm(train_samples, train_parity, test_samples)
            correct = np.sum(predictions == test_parity) / n_test_samples
        except Exception:
            correct = 0
        average_correct += correct / n_tests
    return average_correct
