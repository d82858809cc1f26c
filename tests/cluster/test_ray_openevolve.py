"""OpenEvolve tasks with a Ray executor: each evaluation holds a CPU slot of the driver's local pool, and
its evaluator and candidate jobs run there, brokered by the driver (so the driver can end them all)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selftaught.executors.ray_executor import RayExecutor
from selftaught.tasks import load_task
from selftaught.tasks.openevolve import OpenEvolveTask
from selftaught.testing.cluster import LoopbackCluster

pytestmark = pytest.mark.ray

PACKING = Path(__file__).parents[1] / "openevolve" / "fixtures" / "circle_packing"
POINT = Path(__file__).parents[1] / "openevolve" / "fixtures" / "point_direct"


@pytest.fixture(scope="module")
def remote(cluster: LoopbackCluster) -> Iterator[RayExecutor]:
    with RayExecutor(address=cluster.address, workers=2) as executor:
        yield executor


@pytest.mark.parametrize(("directory", "expected"), [(PACKING, 0.3642), (POINT, 0.2829)])
def test_evaluations_with_a_ray_executor_score_the_same(
    remote: RayExecutor, directory: Path, expected: float
) -> None:
    task = load_task(f"openevolve:{directory}")
    assert isinstance(task, OpenEvolveTask)
    evaluation = task.evaluate(task.seed_algorithm, executor=remote)
    assert evaluation.failures == 0, evaluation.artifacts
    assert evaluation.utility == pytest.approx(expected, abs=1e-4)
