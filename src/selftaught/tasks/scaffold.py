"""`selftaught new-task NAME`: write a task directory that works at once with `selftaught eval`.

The example problem (subset sum: pick numbers whose sum hits a target) is small, has a weak greedy
seed (about 0.17) that an exact method beats (1.0), and shows each part of the format: the toml keys, a seed, the
LM-visible utility text, and a hidden scorer using the strict validators.
"""

from __future__ import annotations

from pathlib import Path

from selftaught.errors import UsageError
from selftaught.tasks.catalog import BUILTIN_NAMES
from selftaught.tasks.taskfile import NAME_PATTERN

_TASK_TOML = """\
# A selftaught task directory (see docs/tasks.md). Every key is required.
name = "{name}"
description = "Subset sum: choose numbers whose sum comes as close as possible to a target"
entry_point = "algorithm"
signature = "def algorithm(numbers: list[int], target: int) -> list[int]"
instance_timeout = 0.5   # seconds per instance, measured outside the sandbox
failure_value = 0.0      # score of an instance that errors, times out or returns something invalid

[instances]
val = 20    # validation instances (fixed seeds: instance i from 4321 + i)
test = 50   # test instances (secret seed per run)
"""

_SEED = '''\
def algorithm(numbers, target):
    """Greedy: take the largest numbers that still fit under the target."""
    chosen, total = [], 0
    for index in sorted(range(len(numbers)), key=lambda i: -numbers[i]):
        if total + numbers[index] <= target:
            chosen.append(index)
            total += numbers[index]
    return chosen
'''

_UTILITY = '''\
import random


def utility(algorithm_str: str) -> float:
    """Subset sum. Returns the mean score over 20 instances, in [0, 1]; higher is better.

    Define `algorithm(numbers, target)` returning the indices (distinct ints) of the numbers you pick.
    Each instance: 30 numbers in 1..1000 and a target of about half their sum (an exact subset
    almost always exists). Instance score: 1 if the picked numbers sum exactly to the target, else
    0.5 / (1 + gap) where gap = |sum - target|.
    Each call has 0.5 seconds; an error, a timeout, repeated or out-of-range indices score 0.
    """
    exec(algorithm_str, globals())
    total = 0.0
    for _ in range(20):
        numbers = [random.randint(1, 1000) for _ in range(30)]
        target = sum(numbers) // 2 + random.randint(-50, 50)
        picked = algorithm(numbers, target)
        assert len(set(picked)) == len(picked) and all(0 <= i < len(numbers) for i in picked)
        gap = abs(sum(numbers[i] for i in picked) - target)
        total += 1.0 if gap == 0 else 0.5 / (1 + gap)
    return total / 20
'''

_SCORER = '''\
"""Hidden scorer: runs in the host (trusted code you write), never shown to the LM.

instances(split, seed, count) returns `count` instances; instance i must depend only on seed + i so
that validation numbers are reproducible. score(instance, output) returns a float in [0, 1], or raises
InvalidOutput for a malformed output (it then scores the failure value of task.toml).
"""

import numpy as np

from selftaught.tasks import Instance, InvalidOutput, describe

N_NUMBERS = 30


def instances(split, seed, count):
    return [_instance(seed + i) for i in range(count)]


def _instance(seed):
    rng = np.random.default_rng(seed)
    numbers = rng.integers(1, 1001, N_NUMBERS).tolist()
    target = sum(numbers) // 2 + int(rng.integers(-50, 51))
    return Instance(args=[numbers, target], hidden=None)


def score(instance, output):
    numbers, target = instance.args
    if not isinstance(output, (list, tuple, np.ndarray)) or np.ndim(output) != 1:
        raise InvalidOutput(f"expected a list of indices, got {describe(output)}")
    picked = list(output)
    if not all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in picked):
        raise InvalidOutput("indices must be integers")
    if len(set(picked)) != len(picked) or not all(0 <= i < len(numbers) for i in picked):
        raise InvalidOutput("indices must be distinct and in range")
    gap = abs(sum(numbers[int(i)] for i in picked) - target)
    return 1.0 if gap == 0 else 0.5 / (1 + gap)
'''


def new_task(name: str, parent: Path) -> Path:
    """Create `parent/name/` with a working example task; refuse to touch an existing non-empty one."""
    if not NAME_PATTERN.match(name):
        raise UsageError(f"task name {name!r} must match [a-z][a-z0-9_]* (lowercase, up to 64 characters)")
    if name in BUILTIN_NAMES:
        raise UsageError(
            f"task name {name!r} is a built-in task: `--task {name}` would always mean the "
            f"built-in, so choose another name (e.g. my_{name})"
        )
    directory = parent / name
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UsageError(f"{str(directory)!r} already exists and is not an empty directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "task.toml").write_text(_TASK_TOML.format(name=name), encoding="utf-8")
        (directory / "seed.py").write_text(_SEED, encoding="utf-8")
        (directory / "utility.py").write_text(_UTILITY, encoding="utf-8")
        (directory / "scorer.py").write_text(_SCORER, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot create task directory {str(directory)!r}: {exc.strerror}") from None
    return directory
