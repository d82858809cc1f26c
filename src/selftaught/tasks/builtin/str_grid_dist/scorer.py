"""Hidden scorer of str_grid_dist (string grid distance), run in the host only.

grid_dist(s, t) for two equal-length strings over "AB": write s above t as a 2 x L grid and count the
neighbouring cells that hold different letters: the vertical pairs (s[i] != t[i]) plus the horizontal
pairs in each row (s[i] != s[i+1], t[i] != t[i+1]). This is the definition in the original STOP code.
Instance i comes from seed + i: L uniform in 1..30, t and a random s uniform over "AB"^L, and
dist = grid_dist(s, t); the program gets (t, dist) and must return some s' with grid_dist(s', t) = dist.
Score: 1 if exact, else 0.5 - |grid_dist(s', t) - dist| / (6 L), which lies in (0, 0.5]; an output that
is not a str of length L over "AB" is invalid (score 0, as in the original).
"""

import numpy as np

from selftaught.tasks import Instance, string_over

MIN_LENGTH = 1
MAX_LENGTH = 30


def grid_dist(s, t):
    vertical = sum(a != b for a, b in zip(s, t))
    return vertical + sum(a != b for a, b in zip(s, s[1:])) + sum(a != b for a, b in zip(t, t[1:]))


def instances(split, seed, count):
    return [_instance(seed + i) for i in range(count)]


def _instance(seed):
    rng = np.random.default_rng(seed)
    length = int(rng.integers(MIN_LENGTH, MAX_LENGTH + 1))
    letters = np.array(["A", "B"])
    t = "".join(letters[rng.integers(0, 2, length)])
    s = "".join(letters[rng.integers(0, 2, length)])
    return Instance(args=[t, grid_dist(s, t)], hidden=s)


def score(instance, output):
    t, dist = instance.args
    s = string_over(output, len(t), "AB")
    found = grid_dist(s, t)
    if found == dist:
        return 1.0
    return 0.5 - abs(found - dist) / (6 * len(t))
