# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)
import numpy as np


def algorithm(train_samples, train_parity, test_samples):
    """Solve X w = y over GF(2) by Gaussian elimination (exact for noiseless labels)."""
    X = np.asarray(train_samples, dtype=np.int64) % 2
    y = np.asarray(train_parity, dtype=np.int64).reshape(-1) % 2
    n = X.shape[1]
    A = np.concatenate([X, y[:, None]], axis=1)
    row, pivots = 0, []
    for col in range(n):
        hits = np.nonzero(A[row:, col])[0]
        if len(hits) == 0:
            continue
        r = row + hits[0]
        A[[row, r]] = A[[r, row]]
        mask = A[:, col].astype(bool)
        mask[row] = False
        A[mask] ^= A[row]
        pivots.append(col)
        row += 1
        if row == len(A):
            break
    w = np.zeros(n, dtype=np.int64)
    for i, col in enumerate(pivots):
        w[col] = A[i, n]
    return (np.asarray(test_samples) @ w) % 2
