"""str_grid_dist under the paper protocol: the original code's instances and scoring (facts, our code).

Instance i: Python's `random` seeded with seed + i draws L in 1..30, then t and s letter by letter
over "AB"; dist = grid_dist(s, t). A call scores 1 if its string is at distance dist, else
0.5 - |d - dist| / (6 L); a call that raises, runs past 0.1 s, or returns something grid_dist refuses
(not a str of length L over "AB") scores 0 and the others still count. A program that cannot be
defined scores 0. Utility: the plain mean over the 50 instances.
"""

import random

from selftaught.tasks import Instance, InvalidOutput


def grid_dist(s, t):
    if not (isinstance(s, str) and isinstance(t, str) and len(s) == len(t) and set(s + t) <= set("AB")):
        raise InvalidOutput("not a str of the length of t over 'AB'")
    pairs = sum(a != b for a, b in zip(s, t))
    return pairs + sum(a != b for a, b in zip(s, s[1:])) + sum(a != b for a, b in zip(t, t[1:]))


def instances(split, seed, count):
    return [_instance(random.Random(seed + i)) for i in range(count)]


def _instance(rng):
    length = rng.randint(1, 30)
    t = "".join(rng.choice("AB") for _ in range(length))
    s = "".join(rng.choice("AB") for _ in range(length))
    return Instance(args=[t, grid_dist(s, t)], hidden=s)


def score(instance, output):
    t, dist = instance.args
    found = grid_dist(output, t)
    return 1.0 if found == dist else 0.5 - abs(found - dist) / (6 * len(t))


def utility(instances, calls):
    if calls is None:
        return 0.0
    total = 0.0
    for instance, call in zip(instances, calls):
        if call.failure is None:
            try:
                total += score(instance, call.output)
            except InvalidOutput:
                pass
    return total / len(instances)
