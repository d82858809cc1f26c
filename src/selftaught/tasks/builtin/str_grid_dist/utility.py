import random


def grid_dist(s: str, t: str) -> int:
    """Write s above t as a 2 x len(t) grid; count neighbouring cells holding different letters."""
    assert isinstance(s, str) and isinstance(t, str) and len(s) == len(t) and set(s + t) <= set("AB")
    vertical = sum(a != b for a, b in zip(s, t))
    return vertical + sum(a != b for a, b in zip(s, s[1:])) + sum(a != b for a, b in zip(t, t[1:]))


def utility(algorithm_str: str) -> float:
    """String grid distance. Returns the mean score over 50 instances, in [0, 1].

    Your code must define `algorithm(t: str, dist: int) -> str` returning a string s of the same
    length as t over the letters "AB" with grid_dist(s, t) == dist (such an s always exists).
    Instance score: 1 if grid_dist(s, t) == dist exactly, else 0.5 - abs(grid_dist(s, t) - dist) / (6 * len(t)).
    Each call may take at most 100 milliseconds (wall clock, measured outside your process; your code
    runs in an isolated sandbox). An instance whose call raises, times out or returns anything but a
    str of length len(t) over "AB" scores 0; the other instances still count.
    """
    exec(algorithm_str, globals())  # defines `algorithm`
    n_tests = 50
    total = 0.0
    for _ in range(n_tests):
        length = random.randint(1, 30)
        t = "".join(random.choice("AB") for _ in range(length))
        s = "".join(random.choice("AB") for _ in range(length))
        dist = grid_dist(s, t)
        found = grid_dist(algorithm(t, dist), t)
        total += 1.0 if found == dist else 0.5 - abs(found - dist) / (6 * length)
    return total / n_tests
