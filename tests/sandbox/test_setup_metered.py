"""Module-level code is metered: a child's set-up CPU counts toward its first call.

Broke (third red team): the program's module-level code ran before any call was timed, so a program
could do its work at import (a setup-time optimiser: up to the 10 s set-up deadline of CPU) and
every call was charged only the rest. Now a cpu-clock call's time starts at the child's fork, less a
20 ms allowance for the sandbox's own start-up code.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selftaught.sandbox import Job, SandboxPool

pytestmark = pytest.mark.slow  # real sandbox jobs

BURN = "import time\n_t = time.process_time()\nwhile time.process_time() - _t < {seconds}:\n    pass\n"
ENTRY = "def f(x):\n    return x + 1\n"


@pytest.fixture(scope="module")
def single() -> Iterator[SandboxPool]:
    with SandboxPool(workers=1) as pool:
        yield pool


def test_work_done_at_import_counts_toward_the_first_call(single: SandboxPool) -> None:
    job = Job(source=BURN.format(seconds=0.6) + ENTRY, entry="f", instances=[[1]], instance_timeout=0.4)
    outcome = single.run(job).instances[0]
    assert outcome.error is not None and outcome.error.startswith("timeout"), outcome
    assert outcome.seconds >= 0.4


def test_import_work_within_the_limit_is_charged_to_the_first_call_only(single: SandboxPool) -> None:
    job = Job(source=BURN.format(seconds=0.2) + ENTRY, entry="f", instances=[[1], [2]], instance_timeout=1.0)
    first, second = single.run(job).instances
    assert (first.output, second.output) == (2, 3)
    assert first.seconds >= 0.18 and second.seconds < 0.18


def test_an_honest_program_is_charged_nothing_for_its_set_up(single: SandboxPool) -> None:
    job = Job(source="import math\n" + ENTRY, entry="f", instances=[[1]], instance_timeout=1.0)
    outcome = single.run(job).instances[0]
    assert outcome.output == 2 and outcome.seconds < 0.02
