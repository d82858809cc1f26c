"""OpenEvolve-style tasks evaluated for real: the evaluator runs in the sandbox, the CLI works end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftaught.sandbox import SandboxPool
from selftaught.tasks import load_task
from selftaught.tasks.openevolve import OpenEvolveEvaluation, OpenEvolveTask

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "openevolve_minimize"
SPEC = f"openevolve:{EXAMPLE}"


@pytest.fixture(scope="module")
def executor() -> Iterator[SandboxPool]:
    pool = SandboxPool()
    try:
        yield pool
    finally:
        pool.close()


def evaluate(task: OpenEvolveTask, source: str, executor: SandboxPool) -> OpenEvolveEvaluation:
    evaluation = task.evaluate(source, executor=executor)
    assert isinstance(evaluation, OpenEvolveEvaluation)
    return evaluation


def test_the_example_runs_its_cascade_in_the_sandbox(executor: SandboxPool) -> None:
    task = load_task(SPEC)
    assert isinstance(task, OpenEvolveTask)
    evaluation = evaluate(task, task.seed_algorithm, executor)
    assert evaluation.failures == 0, evaluation.artifacts
    assert evaluation.stages == 2
    assert {"runs_ok", "value_score", "reliability", "combined_score"} <= set(evaluation.metrics)
    assert evaluation.utility == pytest.approx(evaluation.metrics["combined_score"])
    assert 0.3 < evaluation.utility < 0.95  # random search is decent, not optimal: room to improve
    assert "gaps" in evaluation.artifacts


def test_a_better_block_scores_higher_and_a_broken_one_stops_at_stage_one(executor: SandboxPool) -> None:
    task = load_task(SPEC)
    assert isinstance(task, OpenEvolveTask)
    seed_utility = evaluate(task, task.seed_algorithm, executor).utility
    refined = task.seed_algorithm + (
        "\n\n_random_search = search_algorithm\n\n\n"
        "def search_algorithm(iterations=200, bounds=(-5, 5)):\n"
        "    x, y, value = _random_search(iterations, bounds)\n"
        "    step = 0.5\n"
        "    for _ in range(400):\n"
        "        moved = False\n"
        "        for dx, dy in ((step, 0), (-step, 0), (0, step), (0, -step)):\n"
        "            nx, ny = min(max(x + dx, -5), 5), min(max(y + dy, -5), 5)\n"
        "            v = evaluate_function(nx, ny)\n"
        "            if v < value:\n"
        "                x, y, value, moved = nx, ny, v, True\n"
        "        if not moved:\n"
        "            step /= 2\n"
        "    return x, y, value\n"
    )
    better = evaluate(task, refined, executor)
    assert better.failures == 0 and better.utility > seed_utility
    broken = evaluate(
        task, "def search_algorithm(iterations=200, bounds=(-5, 5)):\n    return 9.0, 9.0, -99.0\n", executor
    )
    assert broken.stages == 1 and broken.utility == 0.0
    assert "outside the box" in broken.artifacts["error"]


def test_an_evaluator_that_raises_scores_zero_with_its_traceback(
    tmp_path: Path, executor: SandboxPool
) -> None:
    (tmp_path / "initial_program.py").write_text("def f():\n    return 1\n")
    (tmp_path / "evaluator.py").write_text(
        "import sys\n\ndef evaluate(program_path):\n"
        "    print('checking', program_path.endswith('.py'), file=sys.stderr)\n"
        "    raise RuntimeError('evaluator gave up')\n"
    )
    task = load_task(f"openevolve:{tmp_path}")
    assert isinstance(task, OpenEvolveTask)
    evaluation = evaluate(task, task.seed_algorithm, executor)
    assert evaluation.utility == 0.0 and evaluation.failures == 1
    assert "RuntimeError: evaluator gave up" in evaluation.artifacts["error"]
    assert "evaluator gave up" in evaluation.artifacts["traceback"]
    assert "checking True" in evaluation.artifacts["stderr"]


def run_cli(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "selftaught", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_cli_eval_and_improve_on_the_example() -> None:
    evaluated = run_cli("eval", SPEC, str(EXAMPLE / "initial_program.py"))
    assert evaluated["task"] == "openevolve:openevolve_minimize" and evaluated["failures"] == 0
    assert evaluated["stages"] == 2 and 0.3 < evaluated["utility"] < 0.95
    improved = run_cli(
        "improve",
        SPEC,
        "--improver",
        "greedy",
        "--lm-calls",
        "2",
        "--responses-per-call",
        "3",
        "--utility-budget",
        "7",
    )
    assert improved["utility_before"] == pytest.approx(evaluated["utility"])
    # The offline model finds a better block here (deterministic: seeded model, seeded evaluator).
    assert improved["utility_after"] > improved["utility_before"]
    assert 1 <= improved["lm_calls"] <= 2 and improved["utility_calls"] <= 7
    assert "# EVOLVE-BLOCK" not in improved["program"]  # the block, not the file
