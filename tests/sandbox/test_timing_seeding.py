"""Load-independent scores: per-instance seeds derived by a keyed hash, and CPU-time measurement."""

from __future__ import annotations

import copy

import pytest

from selftaught.failure import FailureKind
from selftaught.sandbox import Job, SandboxPool, seeding
from selftaught.tasks.evaluation import evaluate
from selftaught.tasks.registry import builtin_task

RANDOM = (
    "import random\n"
    "import numpy as np\n"
    "AT_IMPORT = random.random()\n"
    "def f(x):\n"
    "    return [x, random.random(), float(np.random.rand()), AT_IMPORT]\n"
)


def test_seeded_instances_answer_the_same_however_they_are_split(pool: SandboxPool) -> None:
    seeds = seeding.instance_seeds(4321, 4)
    setup = seeding.setup_seed(4321)
    whole = pool.run(
        Job(source=RANDOM, entry="f", instances=[[i] for i in range(4)], seeds=seeds, setup_seed=setup)
    )
    again = pool.run(
        Job(source=RANDOM, entry="f", instances=[[i] for i in range(4)], seeds=seeds, setup_seed=setup)
    )
    alone = [
        pool.run(
            Job(source=RANDOM, entry="f", instances=[[i]], seeds=[seeds[i]], setup_seed=setup)
        ).instances[0]
        for i in (3, 1)
    ]
    outputs = [r.output for r in whole.instances]
    assert outputs == [r.output for r in again.instances]
    assert [alone[0].output, alone[1].output] == [outputs[3], outputs[1]]
    assert len({o[1] for o in outputs}) == 4  # each instance its own stream
    assert len({o[3] for o in outputs}) == 1  # module-level code saw the setup seed


def test_unseeded_jobs_stay_fresh(pool: SandboxPool) -> None:
    first = pool.run(Job(source=RANDOM, entry="f", instances=[[0]])).instances[0].output
    second = pool.run(Job(source=RANDOM, entry="f", instances=[[0]])).instances[0].output
    assert first[1] != second[1]


def test_derived_seeds_are_keyed_and_never_the_split_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(seeding.KEY_ENV, "00" * 32)
    seeding.seed_key.cache_clear()
    try:
        one = seeding.instance_seeds(5678, 3)
        monkeypatch.setenv(seeding.KEY_ENV, "01" * 32)
        seeding.seed_key.cache_clear()
        other = seeding.instance_seeds(5678, 3)
    finally:
        seeding.seed_key.cache_clear()
    assert one != other and 5678 not in one and len(set(one)) == 3
    assert all(0 <= s < 2**63 for s in one + other)


def test_the_key_file_is_made_once_and_private(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(seeding.KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    seeding.seed_key.cache_clear()
    try:
        key = seeding.seed_key()
        seeding.seed_key.cache_clear()
        assert seeding.seed_key() == key
    finally:
        seeding.seed_key.cache_clear()
    path = tmp_path / "selftaught" / "seed.key"
    assert path.read_bytes() == key and (path.stat().st_mode & 0o777) == 0o600


def test_a_randomised_seed_algorithm_scores_the_same_twice(pool: SandboxPool) -> None:
    """Seeding decides every random choice, so with a limit no call comes near, two evaluations agree
    instance by instance. At three_sat's own 0.1 s limit they need not: the same call's CPU time varies
    up to twofold on a shared virtual machine, so a call that needs about the limit may pass or time out.
    """
    task = copy.copy(builtin_task("three_sat"))
    task.instance_timeout = 10.0
    first = evaluate(task, task.seed_algorithm, split="val", executor=pool)
    second = evaluate(task, task.seed_algorithm, split="val", executor=pool)
    assert first.failures == second.failures and first.utility == second.utility
    assert [i.score for i in first.per_instance] == [i.score for i in second.per_instance]
    kinds = {i.error.kind for i in first.per_instance if i.error is not None}
    assert kinds <= {FailureKind.INVALID_OUTPUT}  # gave up after 1000 flips; the limit decided nothing


def test_a_call_within_its_limit_reports_its_cpu_seconds(pool: SandboxPool) -> None:
    task = builtin_task("three_sat")
    result = evaluate(task, task.seed_algorithm, split="val", executor=pool)
    passed = [i for i in result.per_instance if i.error is None]
    assert passed and all(0.0 <= i.seconds <= task.instance_timeout for i in passed)
