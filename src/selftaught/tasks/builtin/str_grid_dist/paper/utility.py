import random
import time


def utility(algorithm_str: str):
    """String grid distance. Returns a value in [0, 1].

    algorithm(t, dist) must return a string s over "AB" of the length of t with grid_dist(s, t) == dist.
    """
    try:
        exec(algorithm_str, globals())
    except Exception:
        return 0.0
    scores = []
    for _ in range(10):
        length = random.randint(1, 30)
        t = "".join(random.choice("AB") for _ in range(length))
        s = "".join(random.choice("AB") for _ in range(length))
        scores.append(score_test(t, grid_dist(s, t), algorithm))
    return sum(scores) / len(scores)


def grid_dist(s: str, t: str):
    """Cells of the 2 x len(t) grid (s above t) whose neighbour holds a different letter."""
    assert isinstance(s, str) and isinstance(t, str) and len(s) == len(t) and set(s + t) <= set("AB")
    vertical = sum(a != b for a, b in zip(s, t))
    return vertical + sum(a != b for a, b in zip(s, s[1:])) + sum(a != b for a, b in zip(t, t[1:]))


def score_test(t: str, dist: int, find_at_dist, max_time=0.1) -> float:
    start = time.time()
    try:
        d = grid_dist(find_at_dist(t, dist), t)
        if time.time() - start > max_time:
            return 0.0
        return 1.0 if d == dist else 0.5 - abs(d - dist) / (6 * len(t))  # (0, 0.5] when not exact
    except Exception:
        return 0.0
