"""OpenEvolve's scoring rules, checked in the real sandbox with evaluators of our own written in
OpenEvolve's style (dicts and `EvaluationResult`s, cascades, flags, feature dimensions, config.yaml).

Each expected number is what OpenEvolve 0.4.1 gives for the same evaluator: `Evaluator.evaluate_program`
(openevolve/evaluator.py: `_cascade_evaluate`, `_direct_evaluate`, `_passes_threshold`) and the fitness
of `utils/metrics_utils.get_fitness_score` with the database's `feature_dimensions`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftaught.sandbox import SandboxPool
from selftaught.tasks import load_task
from selftaught.tasks.openevolve import HOST_GRACE_SECONDS, OpenEvolveEvaluation, OpenEvolveTask

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

ROOT = Path(__file__).parents[2]
LOAD = (
    "import importlib.util\n"
    "from openevolve.evaluation_result import EvaluationResult\n\n"
    "def load(program_path):\n"
    "    spec = importlib.util.spec_from_file_location('program', program_path)\n"
    "    module = importlib.util.module_from_spec(spec)\n"
    "    spec.loader.exec_module(module)\n"
    "    return module\n\n"
)


@pytest.fixture(scope="module")
def executor() -> Iterator[SandboxPool]:
    pool = SandboxPool()
    try:
        yield pool
    finally:
        pool.close()


def task_in(
    directory: Path, evaluator: str, config: str | None = None, program: str = "X = 1\n"
) -> OpenEvolveTask:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "initial_program.py").write_text(program)
    (directory / "evaluator.py").write_text(LOAD + evaluator)
    if config is not None:
        (directory / "config.yaml").write_text(config)
    task = load_task(f"openevolve:{directory}")
    assert isinstance(task, OpenEvolveTask)
    return task


def score(task: OpenEvolveTask, executor: SandboxPool, source: str | None = None) -> OpenEvolveEvaluation:
    evaluation = task.evaluate(task.seed_algorithm if source is None else source, executor=executor)
    assert isinstance(evaluation, OpenEvolveEvaluation)
    return evaluation


def test_flags_are_not_scores(tmp_path: Path, executor: SandboxPool) -> None:
    """A timeout reported OpenEvolve's way scores 0 (it scored 1.0 when booleans were averaged in)."""
    timeout = score(
        task_in(tmp_path / "a", "def evaluate(program_path):\n    return {'error': 0.0, 'timeout': True}\n"),
        executor,
    )
    assert timeout.utility == 0.0 and timeout.flags == {"timeout": True}
    assert "timeout" not in timeout.metrics
    valid = score(
        task_in(
            tmp_path / "b",
            "def evaluate(program_path):\n    return {'score': 0.4, 'valid': True, 'fast': False}\n",
        ),
        executor,
    )
    assert valid.utility == pytest.approx(0.4) and valid.flags == {"valid": True, "fast": False}
    assert valid.to_dict()["flags"] == {"valid": True, "fast": False}


def test_error_counts_in_the_fitness_not_in_thresholds_and_merges_drop_it(
    tmp_path: Path, executor: SandboxPool
) -> None:
    direct = score(
        task_in(tmp_path / "a", "def evaluate(program_path):\n    return {'a': 1.0, 'error': 0.0}\n"),
        executor,
    )
    assert direct.utility == pytest.approx(0.5)  # get_fitness_score averages `error` in
    cascade = task_in(
        tmp_path / "b",
        "def evaluate(program_path):\n    return {'never': 1.0}\n\n"
        "def evaluate_stage1(program_path):\n    return {'a': 0.6, 'error': 0.0}\n\n"
        "def evaluate_stage2(program_path):\n    return {'b': 0.8}\n",
        "evaluator:\n  cascade_thresholds: [0.5]\n",
    )
    merged = score(cascade, executor)
    # stage 1's mean without `error` is 0.6 >= 0.5, so stage 2 runs; the merge keeps a and b, not error
    assert merged.stages == 2 and merged.metrics == {"a": 0.6, "b": 0.8}
    assert merged.utility == pytest.approx(0.7)


def test_feature_dimensions_are_not_fitness(tmp_path: Path, executor: SandboxPool) -> None:
    body = "def evaluate(program_path):\n    return {'score': 0.8, 'complexity': 500, 'diversity': 3, 'length': 90}\n"
    default = score(task_in(tmp_path / "a", body), executor)
    assert default.utility == pytest.approx((0.8 + 90) / 2)  # complexity and diversity left out
    own = score(
        task_in(tmp_path / "b", body, "database:\n  feature_dimensions: [length, diversity]\n"), executor
    )
    assert own.utility == pytest.approx((0.8 + 500) / 2)
    only = score(
        task_in(
            tmp_path / "c", "def evaluate(program_path):\n    return {'complexity': 4, 'diversity': 2}\n"
        ),
        executor,
    )
    assert only.utility == pytest.approx(3.0)  # nothing else: OpenEvolve averages them all


def test_a_failing_later_stage_keeps_the_earlier_metrics(tmp_path: Path, executor: SandboxPool) -> None:
    task = task_in(
        tmp_path / "a",
        "def evaluate(program_path):\n    return {'never': 1.0}\n\n"
        "def evaluate_stage1(program_path):\n"
        "    return EvaluationResult(metrics={'combined_score': 0.8}, artifacts={'seen': 'stage1'})\n\n"
        "def evaluate_stage2(program_path):\n    raise ValueError('stage two broke')\n",
    )
    evaluation = score(task, executor)
    assert evaluation.failures == 0 and evaluation.stages == 2
    assert evaluation.utility == pytest.approx(0.8)  # 0 before: the raise zeroed the evaluation
    assert evaluation.metrics == {"combined_score": 0.8, "stage2_passed": 0.0}
    assert evaluation.artifacts["failure_stage"] == "stage2"
    assert evaluation.artifacts["stage2_stderr"] == "stage two broke"
    assert (
        "ValueError" in evaluation.artifacts["stage2_traceback"] and evaluation.artifacts["seen"] == "stage1"
    )


def test_a_failing_first_stage_scores_zero_openevolves_way(tmp_path: Path, executor: SandboxPool) -> None:
    task = task_in(
        tmp_path / "a",
        "def evaluate(program_path):\n    return {'never': 1.0}\n\n"
        "def evaluate_stage1(program_path):\n    return 1 / 0\n",
    )
    evaluation = score(task, executor)
    assert evaluation.utility == 0.0 and evaluation.metrics == {"stage1_passed": 0.0, "error": 0.0}
    assert (
        evaluation.artifacts["failure_stage"] == "stage1"
        and "division by zero" in evaluation.artifacts["stderr"]
    )
    assert (
        evaluation.setup_error is not None and "division by zero" in evaluation.setup_error
    )  # never a silent 0


def test_cascade_evaluation_false_calls_evaluate_with_evaluator_args(
    tmp_path: Path, executor: SandboxPool
) -> None:
    evaluator = (
        "def evaluate(program_path, size=1, mode='slow'):\n"
        "    return {'combined_score': size * (10 if mode == 'fast' else 1) + load(program_path).X}\n\n"
        "def evaluate_stage1(program_path):\n    return {'combined_score': -1.0}\n"
    )
    cascade = score(task_in(tmp_path / "a", evaluator), executor)
    assert cascade.utility == -1.0 and cascade.stages == 1  # the default: the cascade, unclipped
    direct = score(
        task_in(
            tmp_path / "b",
            evaluator,
            "evaluator:\n  cascade_evaluation: false\n  evaluator_args: {size: 3, mode: fast}\n",
        ),
        executor,
    )
    assert direct.utility == 31.0 and direct.failures == 0


def test_each_stage_has_the_timeout_and_a_late_timeout_keeps_stage_one(
    tmp_path: Path, executor: SandboxPool
) -> None:
    task = task_in(
        tmp_path / "a",
        "import time\n\n"
        "def evaluate(program_path):\n    return {'never': 1.0}\n\n"
        "def evaluate_stage1(program_path):\n    return {'combined_score': 0.9}\n\n"
        "def evaluate_stage2(program_path):\n"
        "    try:\n        time.sleep(120)\n    except Exception:\n        return {'combined_score': 5.0}\n",
        "evaluator:\n  timeout: 3\n",
    )
    assert task.instance_timeout == 6.0 + HOST_GRACE_SECONDS  # two stages, each limited to 3 s
    evaluation = score(task, executor)
    assert evaluation.utility == pytest.approx(0.9) and evaluation.failures == 0
    assert evaluation.flags == {"timeout": True} and evaluation.metrics["stage2_passed"] == 0.0
    direct = score(
        task_in(
            tmp_path / "b",
            "import time\n\ndef evaluate(program_path):\n    time.sleep(120)\n",
            "evaluator:\n  timeout: 2\n",
        ),
        executor,
    )
    assert direct.utility == 0.0 and direct.flags == {"timeout": True} and direct.metrics == {"error": 0.0}


def test_the_evaluator_reads_config_yaml_and_its_own_section(tmp_path: Path, executor: SandboxPool) -> None:
    task = task_in(
        tmp_path / "a",
        "from pathlib import Path\nimport yaml\n\n"
        "def evaluate(program_path, config=None):\n"
        "    if config is None:\n"
        "        config = yaml.safe_load((Path(__file__).parent / 'config.yaml').read_text())\n"
        "    return {'combined_score': float(config['algotune']['num_trials'])}\n",
        "max_iterations: 3\nalgotune:\n  num_trials: 4\n  data_size: 10\nevaluator:\n  parallel_evaluations: 2\n",
    )
    assert score(task, executor).utility == 4.0


def test_unbounded_utilities_are_not_clipped(tmp_path: Path, executor: SandboxPool) -> None:
    task = task_in(
        tmp_path / "a",
        "def evaluate(program_path):\n"
        "    return EvaluationResult(metrics={'score': load(program_path).SCORE, 'note': 'text'}, artifacts={'b': b'raw'})\n",
        program="SCORE = 7.5\n",
    )
    high = score(task, executor)
    assert high.utility == 7.5 and high.raw_utility == 7.5
    assert high.artifacts["metric:note"] == "text" and high.artifacts["b"] == "raw"
    low = score(task, executor, "SCORE = -3\n")
    assert low.utility == -3.0 and low.failures == 0
    assert low.setup_error is None  # a negative score is a score, not a failure


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selftaught", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_warns_once_about_ignored_keys_and_refuses_a_wrong_type(tmp_path: Path) -> None:
    directory = tmp_path / "task"
    directory.mkdir()
    (directory / "initial_program.py").write_text("SCORE = 2.5\n")
    (directory / "evaluator.py").write_text(
        LOAD + "def evaluate(program_path):\n    return {'combined_score': load(program_path).SCORE}\n"
    )
    (directory / "config.yaml").write_text(
        "novelty: {enabled: true}\nlogger_prefix: run1\nalgotune: {num_trials: 5}\n"
        "evaluator:\n  timout: 9\n  parallel_evaluations: 4\n"
    )
    done = run_cli("eval", f"openevolve:{directory}", str(directory / "initial_program.py"), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["utility"] == 2.5
    warnings = [line for line in done.stderr.splitlines() if "ignored" in line]
    assert len(warnings) == 1, done.stderr
    assert (
        "novelty, logger_prefix, algotune, evaluator.timout (did you mean 'timeout'?), "
        "evaluator.parallel_evaluations" in warnings[0]
    )
    (directory / "config.yaml").write_text("evaluator:\n  cascade_evaluation: 'no'\n")
    refused = run_cli("eval", f"openevolve:{directory}", str(directory / "initial_program.py"))
    assert refused.returncode == 2
    assert (
        refused.stderr.strip().count("\n") == 0
        and "'evaluator.cascade_evaluation' must be true or false" in refused.stderr
    )


def test_improve_ranks_by_the_unclipped_utility(tmp_path: Path) -> None:
    """Above 1 the candidates no longer tie: the improver keeps what scores higher on the raw scale."""
    directory = tmp_path / "task"
    directory.mkdir()
    (directory / "initial_program.py").write_text("def value():\n    return 2.0\n")
    (directory / "evaluator.py").write_text(
        LOAD
        + "def evaluate(program_path):\n    return {'combined_score': float(load(program_path).value())}\n"
    )
    done = run_cli(
        "improve",
        f"openevolve:{directory}",
        "--improver",
        "greedy",
        "--lm-calls",
        "2",
        "--responses-per-call",
        "4",
        "--utility-budget",
        "9",
        "--json",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["utility_before"] == 2.0  # 1.0 when clipped
    assert result["utility_after"] >= result["utility_before"]
