"""Hidden scorer of parity_noise (learning parity with noise (labels flipped with probability 0.05)), run in the host only.

The generator and scorer are shared with the other parity task: see selftaught/tasks/parity.py.
"""

from selftaught.tasks.parity import parity_instance, parity_score

NOISE = 0.05


def instances(split, seed, count):
    return [parity_instance(seed + i, NOISE) for i in range(count)]


def score(instance, output):
    return parity_score(instance, output)
