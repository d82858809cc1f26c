"""Two kinds of task behind one protocol, neither stubbing the other."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from selftaught.tasks import HostScoredTask, Task, load_task
from selftaught.tasks.openevolve import OpenEvolveTask

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MEMBERS = [name for name in Task.__annotations__] + ["utility_text", "check_program", "evaluate"]


def openevolve_example() -> Path:
    found = sorted(path.parent for path in EXAMPLES.rglob("evaluator.py"))
    if not found:
        pytest.skip("no OpenEvolve example directory")
    return found[0]


@pytest.mark.parametrize("spec", ["str_grid_dist", "openevolve"])
def test_each_kind_offers_the_whole_protocol(spec: str) -> None:
    task = load_task(f"openevolve:{openevolve_example()}" if spec == "openevolve" else spec)
    for name in MEMBERS:
        assert hasattr(task, name), name
    assert isinstance(task.utility_text(7), str) and "7" in task.utility_text(7).splitlines()[0]
    assert task.check_program(task.seed_algorithm) is None
    assert task.check_program("") is not None
    params = list(inspect.signature(task.evaluate).parameters)
    assert params[:1] == ["source"] and {"split", "seed", "executor"} <= set(params)


def test_openevolve_tasks_have_no_host_side_scorer_to_stub() -> None:
    task = load_task(f"openevolve:{openevolve_example()}")
    assert isinstance(task, OpenEvolveTask) and not isinstance(task, HostScoredTask)
    assert not hasattr(task, "judge") and not hasattr(task, "instances")
    assert isinstance(load_task("maxcut"), HostScoredTask)
