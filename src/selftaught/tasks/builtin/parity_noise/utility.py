import numpy as np


def utility(algorithm_str: str) -> float:
    """Learning parity with noise. Returns the mean test accuracy over 20 instances, in [0, 1].

    Your code must define `algorithm(train_samples, train_parity, test_samples)` and return one 0/1
    prediction per test sample: a list or 1-D numpy array of exactly len(test_samples) values (bools,
    ints or floats equal to 0 or 1). Anything else -- a (20, 1) or (1, 20) array, 21 values, NaN,
    strings, None -- is invalid.
    Each call may take at most 2 seconds (wall clock, measured outside your process; your code runs in
    an isolated sandbox without network or file access). An instance whose call raises, times out or
    returns an invalid value scores 1e-6; the other instances still count.
    """
    exec(algorithm_str, globals())  # defines `algorithm`
    n_tests = 20
    total_accuracy = 0.0
    for _ in range(n_tests):
        n_bits, p_true, noise_level = 10, 0.3, 0.05
        n_train_samples, n_test_samples = 100, 20
        true_bits = np.random.binomial(1, p_true, n_bits)  # the hidden relevant bits
        samples = np.random.binomial(1, 0.5, (n_train_samples + n_test_samples, n_bits))
        parity = (samples @ true_bits) % 2
        train_samples, test_samples = samples[:n_train_samples], samples[n_train_samples:]
        noise = np.random.binomial(1, noise_level, n_train_samples)
        train_parity = (parity[:n_train_samples] + noise) % 2  # training labels are noisy
        test_parity = parity[n_train_samples:]  # test labels are exact
        predictions = algorithm(train_samples, train_parity, test_samples)
        total_accuracy += np.mean(np.asarray(predictions) == test_parity)
    return total_accuracy / n_tests
