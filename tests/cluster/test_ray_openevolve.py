"""OpenEvolve tasks on a Ray cluster: the evaluator's job brokers its candidate's jobs through the driver."""

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
def test_candidate_jobs_run_on_the_cluster_with_the_same_score(
    remote: RayExecutor, directory: Path, expected: float
) -> None:
    task = load_task(f"openevolve:{directory}")
    assert isinstance(task, OpenEvolveTask)
    evaluation = task.evaluate(task.seed_algorithm, executor=remote)
    assert evaluation.failures == 0, evaluation.artifacts
    assert evaluation.utility == pytest.approx(expected, abs=1e-4)
