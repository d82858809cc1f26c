def utility(algorithm_str: str) -> float:
    """Returns the mean of what `algorithm(i)` returns for three instances (numbers in [0, 1])."""
    exec(algorithm_str, globals())
    return sum(algorithm(i) for i in range(3)) / 3  # noqa: F821 (defined by the exec)
