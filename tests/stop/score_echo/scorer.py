"""The output is the score: anything but a number in [0, 1] is invalid."""

from selftaught.tasks import Instance, InvalidOutput


def instances(split, seed, count):
    return [Instance(args=[seed + i], hidden=None) for i in range(count)]


def score(instance, output):
    if isinstance(output, bool) or not isinstance(output, (int, float)) or not 0.0 <= output <= 1.0:
        raise InvalidOutput(f"not a number in [0, 1]: {output!r}")
    return float(output)
