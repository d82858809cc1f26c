"""Validation scores the output as it is, test scores half of it; labels are secret per split.

An output of exactly 1.0 also reports a "new-best" event (as circle_packing does for a record), so the
scorer's own events can be followed to the run's findings.
"""

from selftaught.tasks import Instance, InvalidOutput, Score

TEST_FACTOR = 0.5


def instances(split, seed, count):
    # The hidden label names the split; it must never reach a program or an improver.
    return [Instance(args=[seed + i], hidden=f"secret-{split}-label-{i}") for i in range(count)]


def score(instance, output):
    if isinstance(output, bool) or not isinstance(output, (int, float)) or not 0.0 <= output <= 1.0:
        raise InvalidOutput(f"not a number in [0, 1]: {output!r}")
    value = float(output) * (TEST_FACTOR if instance.hidden.startswith("secret-test-") else 1.0)
    events = (("new-best", f"an echo of {output}"),) if output == 1.0 else ()
    return Score(value, {"echo": float(output)}, events)
