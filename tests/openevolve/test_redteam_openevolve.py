"""Red-team attacks on OpenEvolve-format tasks: hostile evaluators and candidates (beyond the first audit's list).

The evaluator is code a model may write too, and it runs in a sandboxed child: whatever it answers must
never raise in the host, and a candidate must not reach past the data the evaluator asks of it. Each
test runs a real pool and checks that an honest evaluation in the same pool is unchanged afterwards.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftaught.sandbox import SandboxPool
from selftaught.tasks import load_task
from selftaught.tasks.openevolve import (
    OpenEvolveEvaluation,
    OpenEvolveTask,
)

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

POINT = Path(__file__).parent / "fixtures" / "point_direct"

# An evaluator that skips the runner and answers for it: a result frame written on the control pipe with
# the nonce of the call it is in (found by walking the frames), then it waits to be reaped.
FORGING_EVALUATOR = (
    "import json, os, struct, sys, time\n\n\n"
    "def evaluate(program_path):\n"
    "    frame = sys._getframe(1)\n"
    "    while frame is not None and 'nonce' not in frame.f_locals:\n"
    "        frame = frame.f_back\n"
    "    head = json.dumps({'t': 'result', 'n': frame.f_locals['nonce'], 'nb': 1}).encode()\n"
    "    body = open(os.path.join(os.path.dirname(program_path), 'answer.json'), 'rb').read()\n"
    "    os.write(4, struct.pack('>I', len(head)) + head + struct.pack('>I', len(body)) + body)\n"
    "    time.sleep(5)\n"
)


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    executor = SandboxPool(workers=2)
    try:
        yield executor
    finally:
        executor.close()


def _task(directory: Path) -> OpenEvolveTask:
    task = load_task(f"openevolve:{directory}")
    assert isinstance(task, OpenEvolveTask)
    return task


def _evaluate(task: OpenEvolveTask, source: str, pool: SandboxPool) -> OpenEvolveEvaluation:
    evaluation = task.evaluate(source, executor=pool)
    assert isinstance(evaluation, OpenEvolveEvaluation)
    return evaluation


def _honest_still(pool: SandboxPool) -> None:
    task = _task(POINT)
    first = _evaluate(task, task.seed_algorithm, pool)
    again = _evaluate(task, task.seed_algorithm, pool)
    assert first.failures == 0 and again.utility == first.utility


def _strict_json(evaluation: OpenEvolveEvaluation) -> None:
    """What `eval --json` prints must be JSON a strict reader accepts (no NaN or Infinity)."""
    json.dumps(evaluation.to_dict(verbose=True), allow_nan=False)


@pytest.mark.parametrize(
    "answer",
    [
        '{"metrics": {"combined_score": ' + "9" * 4000 + "}}",  # broke: OverflowError in the host
        '{"metrics": {"combined_score": 1e999}}',
        '{"metrics": {"combined_score": NaN, "b": -Infinity}}',
        '{"metrics": [0.5, 1.0]}',
        '{"metrics": {"combined_score": 0.5}, "stages": 1e999, "error": {"nested": [1, 2]}}',
        '{"metrics": {"combined_score": 0.5}, "artifacts": {"a": {"__st__": "set", "items": [1, 2]}}}',
        '{"metrics": {"combined_score": 0.5}, "artifacts": {"big": "' + "x" * 200_000 + '"}}',
        '{"metrics": {"\\u0063ombined_score": 0.5}}',
        '"\\ud800"',
        "[" * 50_000 + "]" * 50_000,
    ],
)
def test_a_forged_evaluator_answer_never_raises_in_the_host(
    pool: SandboxPool, tmp_path: Path, answer: str
) -> None:
    (tmp_path / "initial_program.py").write_text("X = 1\n")
    (tmp_path / "evaluator.py").write_text(FORGING_EVALUATOR)
    (tmp_path / "answer.json").write_text(answer)
    evaluation = _evaluate(_task(tmp_path), "X = 1\n", pool)
    assert 0.0 <= evaluation.utility <= 1.0 and math.isfinite(evaluation.raw_utility)
    assert all(len(text) <= 8000 for text in evaluation.artifacts.values())
    if evaluation.utility == 0.0:
        assert evaluation.setup_error, "a zero must come with its reason"
    _strict_json(evaluation)
    _honest_still(pool)


def test_metrics_whose_sum_overflows_give_a_finite_raw_utility(pool: SandboxPool, tmp_path: Path) -> None:
    """Broke: two metrics of 1e308 (no combined_score) gave raw_utility inf, printed as `Infinity`."""
    (tmp_path / "initial_program.py").write_text("A = 1e308\nB = 1e308\n")
    (tmp_path / "evaluator.py").write_text(
        "import importlib.util\n\n\n"
        "def evaluate(program_path):\n"
        "    spec = importlib.util.spec_from_file_location('p', program_path)\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "    return {'a': module.A, 'b': module.B}\n"
    )
    task = _task(tmp_path)
    evaluation = _evaluate(task, task.seed_algorithm, pool)
    assert evaluation.raw_utility == 1e308 and evaluation.utility == 1e308  # unclipped, still finite
    _strict_json(evaluation)
    low = _evaluate(task, "A = -1e308\nB = -1e308\n", pool)
    assert low.raw_utility == -1e308 and low.utility == -1e308
    _strict_json(low)


@pytest.mark.parametrize(
    "value",
    [
        "10 ** 4000",
        "float('nan')",
        "float('inf')",
        "2 ** 1024",
        "complex(1, 1)",
        "'0.9'",
        "[0.9]",
        "{'x': 0.9}",
    ],
)
def test_a_candidate_value_that_is_not_a_number_scores_zero_with_a_reason(
    pool: SandboxPool, tmp_path: Path, value: str
) -> None:
    """An evaluator that passes the candidate's value through as its score (a careless but common style)."""
    (tmp_path / "initial_program.py").write_text("SCORE = 0.25\n")
    (tmp_path / "evaluator.py").write_text(
        "import importlib.util\n\n\n"
        "def evaluate(program_path):\n"
        "    spec = importlib.util.spec_from_file_location('p', program_path)\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "    return {'combined_score': module.SCORE}\n"
    )
    task = _task(tmp_path)
    assert _evaluate(task, task.seed_algorithm, pool).utility == 0.25
    evaluation = _evaluate(task, f"SCORE = {value}\n", pool)
    assert evaluation.utility == 0.0 and evaluation.setup_error
    _strict_json(evaluation)


def test_a_40_megabyte_metric_becomes_a_short_artifact(pool: SandboxPool, tmp_path: Path) -> None:
    """A text metric of 40 MB (over the 32 MiB frame cap if sent whole): kept short, the score stands."""
    (tmp_path / "initial_program.py").write_text("X = 1\n")
    (tmp_path / "evaluator.py").write_text(
        "def evaluate(program_path):\n    return {'combined_score': 0.5, 'log': 'x' * (40 << 20)}\n"
    )
    evaluation = _evaluate(_task(tmp_path), "X = 1\n", pool)
    assert evaluation.utility == 0.5
    assert 0 < len(evaluation.artifacts["metric:log"]) <= 8000
    _honest_still(pool)


SCRIPT_EVALUATOR = (
    "import os, subprocess, sys\n\n\n"
    "def evaluate(program_path):\n"
    "    here = os.path.dirname(program_path)\n"
    "    subprocess.run([sys.executable, program_path], cwd=here, timeout=10)\n"
    "    try:\n"
    "        with open(os.path.join(here, 'out.txt')) as fh:\n"
    "            return {'combined_score': float(fh.read())}\n"
    "    except (OSError, ValueError) as exc:\n"
    "        return {'combined_score': 0.0, 'error': f'{type(exc).__name__}: {exc}'}\n"
)


@pytest.mark.parametrize(
    ("script", "leaked"),
    [
        ("import os\nos.symlink('/proc/1/environ', 'out.txt')\n", True),
        ("import os\nos.symlink('/etc/hostname', 'out.txt')\n", True),
        ("import os\nos.mkdir('out.txt')\nopen('out.txt/x', 'w').write('1.0')\n", False),
        ("import os\nfd = os.open('out.txt', os.O_CREAT | os.O_WRONLY)\nos.ftruncate(fd, 1 << 40)\n", False),
    ],
)
def test_files_a_script_leaves_cannot_reach_past_its_own_data(
    pool: SandboxPool, tmp_path: Path, script: str, leaked: bool
) -> None:
    """Symlinks are not handed back, a directory or a sparse 1 TB file in place of the output fails."""
    (tmp_path / "initial_program.py").write_text("open('out.txt', 'w').write('0.25')\n")
    (tmp_path / "evaluator.py").write_text(SCRIPT_EVALUATOR)
    task = _task(tmp_path)
    assert _evaluate(task, task.seed_algorithm, pool).utility == 0.25
    evaluation = _evaluate(task, script, pool)
    assert evaluation.utility == 0.0, evaluation.artifacts
    if leaked:
        assert "FileNotFoundError" in evaluation.artifacts.get("metric:error", evaluation.setup_error or "")
    _honest_still(pool)
