"""The Ray executor gives the same numbers as the local pool: same evaluations, same STOP run."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from selftaught.config import Settings
from selftaught.executors.ray_executor import RayExecutor
from selftaught.sandbox import Job, SandboxPool
from selftaught.stop.api import run_once
from selftaught.tasks import evaluate, load_task
from selftaught.testing.cluster import LoopbackCluster

pytestmark = pytest.mark.ray

# Deterministic and far inside the time limits, so that any difference would be the executor's.
PROGRAMS = {
    "parity_noise": "def algorithm(train_samples, train_parity, test_samples):\n"
    "    return [int(row[0]) ^ int(row[3]) for row in test_samples]\n",
    "maxcut": "import numpy as np\n\ndef algorithm(adjacency_matrix):\n"
    "    degree = np.asarray(adjacency_matrix).sum(axis=1)\n"
    "    return [int(d > np.median(degree)) for d in degree]\n",
    "str_grid_dist": None,  # its seed algorithm, `return t`
}
BROKEN = {
    "raises": "def algorithm(*args):\n    raise ValueError('nope')\n",
    "syntax": "def algorithm(*args):\n    return (\n",
    "wrong_shape": "def algorithm(*args):\n    return [[1, 2], 3]\n",
}


@pytest.fixture(scope="module")
def executors(cluster: LoopbackCluster) -> Iterator[tuple[SandboxPool, RayExecutor]]:
    with SandboxPool(workers=1) as local, RayExecutor(address=cluster.address, workers=2) as remote:
        yield local, remote


def _scores(evaluation) -> list[tuple[float, str | None]]:
    return [(item.score, item.error) for item in evaluation.per_instance]


@pytest.mark.parametrize("task_name", ["parity_noise", "maxcut", "str_grid_dist"])
def test_task_evaluations_match_the_local_pool(executors, task_name: str) -> None:
    local, remote = executors
    # Same task and instances, but a generous per-instance limit: on a loaded 2-core machine a 0.1 s
    # limit turns scheduler noise into timeouts on either executor; this test is about the results.
    task = copy.copy(load_task(task_name))
    task.instance_timeout = 5.0
    programs = [PROGRAMS[task_name] or task.seed_algorithm, *BROKEN.values()]
    for split, seed in (("val", None), ("test", 12345)):
        for source in programs:
            here = evaluate(task, source, split=split, seed=seed, executor=local)
            there = evaluate(task, source, split=split, seed=seed, executor=remote)
            differing = [
                (a, b)
                for a, b in zip(there.per_instance, here.per_instance, strict=True)
                if a.score != b.score
            ]
            assert not differing, differing[:3]
            assert (there.utility, there.failures, there.setup_error) == (
                here.utility,
                here.failures,
                here.setup_error,
            )
    assert remote.stats.local_jobs == 0  # evaluations never run on the driver


def test_large_arrays_travel_as_ray_objects_and_come_back_intact(executors) -> None:
    _, remote = executors
    frozen = np.arange(200_000, dtype=np.float64).reshape(400, 500).copy()  # owns its data
    frozen.setflags(write=False)
    writable = np.random.default_rng(3).random((300, 300))
    source = "def f(a, b):\n    return [float(a.sum()), float(b.sum()), a.shape, b[:2, :2]]\n"
    job = Job(source=source, entry="f", instances=[[frozen, writable], [frozen, {"x": writable}.get("x")]])
    packed, again = remote._arrays.pack(job), remote._arrays.pack(job)
    shared_frozen, shared_writable = packed.instances[0]
    assert type(shared_frozen).__name__ == "SharedArray" and shared_frozen.cacheable
    assert again.instances[0][0].ref == shared_frozen.ref, "a frozen array is put once"
    assert not shared_writable.cacheable and again.instances[0][1].ref != shared_writable.ref
    small = Job(source="def f(x):\n    return x\n", entry="f", instances=[[np.zeros(3)]])
    assert remote._arrays.pack(small) is small, "small arrays stay inside the job"
    result = remote.run(job)
    for outcome in result.instances:
        assert outcome.error is None, outcome.error
        total_a, total_b, shape, corner = outcome.output
        assert total_a == float(frozen.sum()) and total_b == float(writable.sum())
        assert tuple(shape) == frozen.shape
        np.testing.assert_array_equal(corner, writable[:2, :2])


def _lineage(result) -> list[tuple[int, str, float, float]]:
    return [(it.t, it.improver_sha, it.meta_utility_val, it.meta_utility_test) for it in result.iterations]


def test_self_improvement_run_gives_the_same_numbers(
    executors, cluster: LoopbackCluster, tmp_path: Path
) -> None:
    """One STOP iteration (offline model, small budgets) on each executor: identical lineage and scores."""
    settings = Settings(
        task="str_grid_dist",
        iterations=1,
        tests=2,
        estimate_tests=2,
        lm_calls=2,
        responses_per_call=2,
        utility_budget=3,
        test_seed=777,
        seed=3,
        improver_timeout=60.0,
        meta_improver_timeout=300.0,
    )
    local, remote = executors
    here = run_once(settings.model_copy(update={"runs_dir": tmp_path / "local"}), executor=local)
    ray_settings = settings.model_copy(
        update={
            "runs_dir": tmp_path / "ray",
            "executor": "ray",
            "ray_address": cluster.address,
            "workers": 2,
        }
    )
    before = copy.deepcopy(remote.stats)
    there = run_once(ray_settings, executor=remote)
    stats = remote.stats
    assert here.status == there.status == "completed"
    assert _lineage(there) == _lineage(here)
    improvers = stats.local_jobs - before.local_jobs
    evaluations = stats.completed - before.completed
    assert improvers > 0, "improver jobs (with remote calls) run on the driver's pool"
    assert evaluations > 0, "their evaluations run on the cluster"
    assert stats.retried == before.retried == 0
