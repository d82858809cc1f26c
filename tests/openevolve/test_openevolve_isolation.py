"""The candidate never runs in the evaluator's process; evaluators written the OpenEvolve ways still work.

Real sandbox pools, fixture evaluators of our own in the usual OpenEvolve styles (direct import through
importlib, `subprocess.Popen([sys.executable, script])` + a pickle file, a cascade returning
`EvaluationResult` with artifacts). Each attack asserts the attacking candidate scores its honest value
or fails with a stated reason, and that an honest evaluation in the same pool is unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftaught.sandbox import SandboxPool
from selftaught.tasks import load_task
from selftaught.tasks.openevolve import OpenEvolveEvaluation, OpenEvolveTask

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

FIXTURES = Path(__file__).parent / "fixtures"
PACKING = FIXTURES / "circle_packing"
POINT = FIXTURES / "point_direct"
INSIDE = Path(__file__).parents[2] / "src" / "selftaught" / "sandbox" / "inside"
# The fixture's initial packing, as its own evaluator measures it natively (OpenEvolve's example reports
# ~0.959); re-derived by test_the_same_evaluator_outside_selftaught_gives_the_same_figure, or by hand:
#   cd tests/openevolve/fixtures/circle_packing && PYTHONPATH=.:../../../../src/selftaught/sandbox/inside \
#   python -c "import evaluator; print(evaluator.evaluate_stage1('initial_program.py'))"
SUM_OF_RINGS = 0.9597642169962064


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    executor = SandboxPool(workers=2)
    try:
        yield executor
    finally:
        executor.close()


def task_at(directory: Path) -> OpenEvolveTask:
    task = load_task(f"openevolve:{directory}")
    assert isinstance(task, OpenEvolveTask)
    return task


def evaluate(task: OpenEvolveTask, source: str, pool: SandboxPool) -> OpenEvolveEvaluation:
    evaluation = task.evaluate(source, executor=pool)
    assert isinstance(evaluation, OpenEvolveEvaluation)
    return evaluation


# ---------------------------------------------------------------- evaluators that start `python script.py`


def test_subprocess_and_pickle_evaluator_scores_the_initial_packing_like_openevolve(
    pool: SandboxPool,
) -> None:
    task = task_at(PACKING)
    evaluation = evaluate(task, task.seed_algorithm, pool)
    assert evaluation.failures == 0 and evaluation.setup_error is None, evaluation.artifacts
    assert evaluation.metrics["validity"] == 1.0
    assert evaluation.metrics["sum_radii"] == pytest.approx(SUM_OF_RINGS, abs=1e-9)
    assert evaluation.utility == pytest.approx(0.3642, abs=1e-4)  # OpenEvolve's evaluator: 0.364
    assert evaluation.stages == 1  # below the first cascade threshold (0.5), as in OpenEvolve


def test_the_same_evaluator_outside_selftaught_gives_the_same_figure() -> None:
    """The outside check: the fixture evaluator run natively (a real subprocess, a real pickle)."""
    code = "import json, evaluator; print(json.dumps(evaluator.evaluate_stage1('initial_program.py')))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKING,
        env={**os.environ, "PYTHONPATH": f"{PACKING}{os.pathsep}{INSIDE}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    native = json.loads(done.stdout.strip().splitlines()[-1])
    assert native["sum_radii"] == pytest.approx(SUM_OF_RINGS, abs=1e-9)
    assert native["combined_score"] == pytest.approx(0.3642, abs=1e-4)


def packing_block(body: str) -> str:
    return "import numpy as np\n\n\n" + body


def test_an_invalid_packing_scores_zero_with_the_evaluators_reason(pool: SandboxPool) -> None:
    task = task_at(PACKING)
    overlapping = packing_block(
        "def place_centres():\n    return np.full((26, 2), 0.5)\n\n\n"
        "def shrink_radii(centres):\n    return np.full(26, 0.1)\n"
    )
    evaluation = evaluate(task, overlapping, pool)
    assert evaluation.utility == 0.0
    assert "circles 0 and 1 overlap" in evaluation.artifacts["failure"]


def test_a_script_past_the_evaluators_timeout_is_killed_and_said(pool: SandboxPool, tmp_path: Path) -> None:
    directory = tmp_path / "packing"
    shutil.copytree(PACKING, directory)
    evaluator = directory / "evaluator.py"
    evaluator.write_text(evaluator.read_text().replace("SECONDS = 20", "SECONDS = 1.5"))
    task = task_at(directory)
    spinning = packing_block(
        "def place_centres():\n    while True:\n        pass\n\n\ndef shrink_radii(c):\n    return c\n"
    )
    evaluation = evaluate(task, spinning, pool)
    assert evaluation.utility == 0.0
    assert "TimeoutError: the packing took more than 1.5 s" in evaluation.artifacts["failure"]
    assert evaluate(task, task.seed_algorithm, pool).utility == pytest.approx(0.3642, abs=1e-4)


EXPLOIT_PICKLE = packing_block(
    "class Exploit:\n"
    "    def __reduce__(self):\n"
    "        return (exec, (\"import sys; ev = sys.modules['evaluator']; ev.problems = lambda c, r: []; "
    'ev.GOAL = 0.5",))\n\n\n'
    "def place_centres():\n    return Exploit()\n\n\n"
    "def shrink_radii(centres):\n    return np.full(26, 0.4)\n"
)


def test_a_pickle_that_runs_code_is_refused_and_the_score_stays_honest(pool: SandboxPool) -> None:
    task = task_at(PACKING)
    attacked = evaluate(task, EXPLOIT_PICKLE, pool)
    assert attacked.utility == 0.0 and attacked.metrics["validity"] == 0.0
    assert "refused to unpickle builtins.exec" in attacked.artifacts["failure"]
    honest = evaluate(task, task.seed_algorithm, pool)
    assert honest.utility == pytest.approx(0.3642, abs=1e-4)


def test_code_and_task_files_written_by_the_script_are_not_handed_back(pool: SandboxPool) -> None:
    task = task_at(PACKING)
    seed = task.seed_algorithm
    writes = seed.replace(
        "def place_centres():\n",
        "def place_centres():\n"
        "    import os, sys\n"
        "    root = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))\n"
        "    for name in ('evaluator.py', 'tmp/sitecustomize.py', 'numpy.py', 'notes.txt'):\n"
        "        with open(os.path.join(root, name), 'w') as fh:\n"
        "            fh.write('import sys; sys.modules[\"evaluator\"].GOAL = 0.5\\n')\n",
    )
    evaluation = evaluate(task, writes, pool)
    assert evaluation.utility == pytest.approx(0.3642, abs=1e-4)  # its honest value
    stderr = evaluation.artifacts["stderr"]
    for name in ("evaluator.py", "tmp/sitecustomize.py", "numpy.py"):
        assert f"not handed back to the evaluator: {name}" in stderr
    assert "notes.txt" not in stderr  # plain data files do come back


# ---------------------------------------------------------------- evaluators that import the candidate

HONEST_POINT = "def propose():\n    return 0.2, 0.1\n"
# The head of an evaluator.py that imports the candidate the usual way (and can time calls with SIGALRM).
DIRECT_IMPORT = (
    "import importlib.util\nimport random\nimport signal\n\n\n"
    "def _alarm(signum, frame):\n    raise TimeoutError('alarm')\n\n\n"
    "def evaluate(program_path):\n"
    "    spec = importlib.util.spec_from_file_location('candidate', program_path)\n"
    "    module = importlib.util.module_from_spec(spec)\n"
    "    spec.loader.exec_module(module)\n"
)
PATCH_EVALUATOR = (
    "import gc, sys\n"
    "for obj in gc.get_objects():\n"
    "    if getattr(obj, '__name__', None) in ('closeness', 'evaluate') and hasattr(obj, '__code__'):\n"
    "        obj.__code__ = (lambda *a, **k: {'combined_score': 1.0}).__code__\n"
    "evaluator = sys.modules.get('evaluator')\n"
    "if evaluator is not None:\n"
    "    evaluator.closeness = lambda x, y: 1.0\n"
) + HONEST_POINT
PATCH_WIRE = (
    "import sys\n"
    "import wire\n"
    "FORGED = {'metrics': {'combined_score': 1.0}, 'artifacts': {}, 'stages': 1, 'error': None}\n"
    "_real = wire.dumps\n"
    "wire.dumps = lambda value, *a, **k: _real(FORGED, *a, **k)\n"
    "for module in list(sys.modules.values()):\n"
    "    if hasattr(module, 'evaluate_candidate'):\n"
    "        module.evaluate_candidate = lambda *a: FORGED\n"
) + HONEST_POINT
WALK_FRAMES = (
    "import sys\n\n\n"
    "def propose():\n"
    "    frame = sys._getframe()\n"
    "    while frame is not None:\n"
    "        for value in list(frame.f_locals.values()):\n"
    "            if isinstance(value, dict):\n"
    "                value['combined_score'] = 1.0\n"
    "        frame = frame.f_back\n"
    "    return 0.2, 0.1\n"
)


def test_direct_import_gets_the_candidates_functions_and_data(pool: SandboxPool) -> None:
    task = task_at(POINT)
    evaluation = evaluate(task, HONEST_POINT, pool)
    assert evaluation.failures == 0
    assert evaluation.utility == pytest.approx(0.2829, abs=1e-4)


@pytest.mark.parametrize("attack", [PATCH_EVALUATOR, WALK_FRAMES], ids=["patch-evaluator", "walk-frames"])
def test_a_candidate_that_patches_the_evaluator_scores_its_honest_value(
    pool: SandboxPool, attack: str
) -> None:
    task = task_at(POINT)
    honest = evaluate(task, HONEST_POINT, pool)
    attacked = evaluate(task, attack, pool)
    assert attacked.failures == 0, attacked.artifacts
    assert attacked.utility == honest.utility < 0.3
    assert evaluate(task, HONEST_POINT, pool).utility == honest.utility


def test_a_candidate_that_patches_the_wire_format_fails_with_a_reason(pool: SandboxPool) -> None:
    task = task_at(POINT)
    honest = evaluate(task, HONEST_POINT, pool)
    attacked = evaluate(task, PATCH_WIRE, pool)
    assert attacked.utility == 0.0 and attacked.failures == 1
    # Its forged values reach only its own answers: through the host they break its channel (its process
    # is ended, with the reason); over the direct socket its import describes nothing the evaluator can use.
    error = attacked.artifacts["error"]
    assert (
        "the candidate's process ended: exception: Exception: malformed remote call" in error
        or "has no attribute 'propose'" in error
    ), error
    assert attacked.setup_error is not None and attacked.setup_error.startswith("evaluator: ")
    assert evaluate(task, HONEST_POINT, pool).utility == honest.utility


@pytest.mark.parametrize(
    "load",
    [
        "import runpy\n    module = runpy.run_path(program_path)\n    x, y = module['propose']()",
        "namespace = {}\n    exec(open(program_path).read(), namespace)\n    x, y = namespace['propose']()",
        "import importlib.machinery\n"
        "    module = importlib.machinery.SourceFileLoader('c', program_path).load_module()\n"
        "    x, y = module.propose()",
    ],
    ids=["runpy", "exec-text", "source-loader"],
)
def test_running_the_candidate_inside_the_evaluator_is_refused_with_a_reason(
    pool: SandboxPool, tmp_path: Path, load: str
) -> None:
    (tmp_path / "initial_program.py").write_text(HONEST_POINT)
    (tmp_path / "evaluator.py").write_text(
        f"def evaluate(program_path):\n    {load}\n    return {{'combined_score': 1.0 / (1.0 + abs(x) + abs(y))}}\n"
    )
    evaluation = evaluate(task_at(tmp_path), PATCH_EVALUATOR, pool)
    assert evaluation.utility == 0.0 and evaluation.failures == 1
    assert "never runs in the evaluator's process" in evaluation.artifacts["error"]


def test_import_by_name_state_and_errors_cross_as_data(pool: SandboxPool, tmp_path: Path) -> None:
    (tmp_path / "initial_program.py").write_text(
        "SIZE = 3\n\n\ndef grow(values):\n    return [v * 2 for v in values]\n"
    )
    (tmp_path / "evaluator.py").write_text(
        "import random\n"
        "import numpy as np\n\n\n"
        "def evaluate(program_path):\n"
        "    import candidate_program as c\n"
        "    random.seed(7)\n"
        "    grown = c.grow(np.arange(c.SIZE))\n"
        "    try:\n"
        "        c.explode()\n"
        "        raised = 'nothing'\n"
        "    except ZeroDivisionError as exc:\n"
        "        raised = str(exc)\n"
        "    draw = c.draw()\n"
        "    random.seed(7)\n"
        "    same = draw == random.random()\n"
        "    return {'combined_score': float(sum(grown)) / 10, 'same_draw': float(same), 'raised': raised}\n"
    )
    program = (
        "import random\n\nSIZE = 3\n\n\ndef grow(values):\n    return [int(v) * 2 for v in values]\n\n\n"
        "def explode():\n    return 1 / 0\n\n\ndef draw():\n    return random.random()\n"
    )
    evaluation = evaluate(task_at(tmp_path), program, pool)
    assert evaluation.failures == 0, evaluation.artifacts
    assert evaluation.utility == pytest.approx(0.6)
    assert evaluation.metrics["same_draw"] == 1.0  # the evaluator's seeding reaches the candidate
    assert evaluation.artifacts["metric:raised"] == "division by zero"


# ---------------------------------------------------------------- what the evaluator said is kept and shown

OVERLAPPING = packing_block(
    "def place_centres():\n    return np.full((26, 2), 0.5)\n\n\ndef shrink_radii(centres):\n    return np.full(26, 0.1)\n"
)


def test_a_zero_score_is_stored_with_the_evaluators_reason(pool: SandboxPool, tmp_path: Path) -> None:
    from selftaught.stop.scoring import DownstreamScorer, SplitSeeds
    from selftaught.store.db import RunStore, sha256

    task = task_at(PACKING)
    store = RunStore(tmp_path / "run.sqlite")
    scorer = DownstreamScorer(task, pool, SplitSeeds(val=4321, test=1_234_567), store)
    assert scorer.evaluation(OVERLAPPING).utility == 0.0
    stored = store.get_evaluation(sha256(OVERLAPPING), task.name, "val", 4321)
    assert stored is not None and stored.setup_error is not None
    assert stored.setup_error.startswith("evaluator scored 0; failure: circles 0 and 1 overlap")
    assert "circles 0 and 1 overlap" in stored.artifacts["failure"] and stored.metrics["validity"] == 0.0
    honest = scorer.evaluation(task.seed_algorithm)
    assert honest.setup_error is None and honest.utility == pytest.approx(0.3642, abs=1e-4)


def test_cli_eval_verbose_prints_the_evaluators_artifacts(tmp_path: Path) -> None:
    program = tmp_path / "overlapping.py"
    program.write_text(OVERLAPPING)
    done = subprocess.run(
        [sys.executable, "-m", "selftaught", "eval", f"openevolve:{PACKING}", str(program), "--verbose"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "utility 0.0000" in done.stdout
    assert "failure:\n" in done.stdout and "circles 0 and 1 overlap" in done.stdout
    quiet = subprocess.run(
        [sys.executable, "-m", "selftaught", "eval", f"openevolve:{PACKING}", str(program), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "circles 0 and 1 overlap" in json.loads(quiet.stdout)["setup_error"]


def test_an_alarm_in_a_direct_import_evaluator_limits_the_candidates_call(
    pool: SandboxPool, tmp_path: Path
) -> None:
    (tmp_path / "initial_program.py").write_text(HONEST_POINT)
    (tmp_path / "evaluator.py").write_text(
        DIRECT_IMPORT + "    signal.signal(signal.SIGALRM, _alarm)\n"
        "    signal.alarm(1)\n"
        "    try:\n"
        "        x, y = module.propose()\n"
        "    except TimeoutError as exc:\n"
        "        return {'combined_score': 0.0, 'timed_out': 1.0, 'why': str(exc)}\n"
        "    finally:\n"
        "        signal.alarm(0)\n"
        "    return {'combined_score': 1.0 / (1.0 + abs(x) + abs(y)), 'timed_out': 0.0}\n"
    )
    task = task_at(tmp_path)
    spinning = evaluate(task, "def propose():\n    while True:\n        pass\n", pool)
    assert spinning.metrics["timed_out"] == 1.0 and spinning.utility == 0.0
    assert evaluate(task, HONEST_POINT, pool).utility == pytest.approx(1 / 1.3)


def test_a_script_ending_with_os_exit_still_hands_back_its_files(pool: SandboxPool) -> None:
    task = task_at(PACKING)
    exits = task.seed_algorithm + (
        "\n\n_honest = shrink_radii\n\n\n"
        "def shrink_radii(centres):\n"
        "    import os, pickle, sys\n"
        "    radii = _honest(centres)\n"
        "    with open(sys.argv[0] + '.pickle', 'wb') as fh:\n"
        "        pickle.dump({'centres': centres, 'radii': radii, 'claimed': float(radii.sum())}, fh)\n"
        "    os._exit(0)\n"
    )
    evaluation = evaluate(task, exits, pool)
    assert evaluation.utility == pytest.approx(0.3642, abs=1e-4), evaluation.artifacts


def test_concurrent_evaluations_do_not_time_each_other_out(tmp_path: Path) -> None:
    """Candidate jobs queue for cores; each evaluation's clock must start only when it may run."""
    from concurrent.futures import ThreadPoolExecutor

    (tmp_path / "config.yaml").write_text("evaluator:\n  timeout: 2.5\n")
    (tmp_path / "initial_program.py").write_text(
        "import time\n\n\ndef propose():\n    time.sleep(0.9)\n    return 0.2, 0.1\n"
    )
    shutil.copy(POINT / "evaluator.py", tmp_path / "evaluator.py")
    task = task_at(tmp_path)
    with SandboxPool(workers=1) as one_core, ThreadPoolExecutor(4) as threads:
        results = list(threads.map(lambda _: task.evaluate(task.seed_algorithm, executor=one_core), range(4)))
    assert [r.failures for r in results] == [0, 0, 0, 0], [r.artifacts.get("error") for r in results]
    assert all(r.utility == pytest.approx(0.2829, abs=1e-4) for r in results)


def test_a_candidate_cannot_choose_the_evaluators_later_random_draws(
    pool: SandboxPool, tmp_path: Path
) -> None:
    (tmp_path / "initial_program.py").write_text("def guess():\n    return 0.5\n")
    (tmp_path / "evaluator.py").write_text(
        DIRECT_IMPORT + "    random.seed(2024)\n"
        "    value = module.guess()\n"
        "    target = random.random()  # drawn after the call: in one process the candidate could pick it\n"
        "    return {'combined_score': 1.0 - abs(float(value) - target)}\n"
    )
    task = task_at(tmp_path)
    rigged = "import random\n\n\ndef guess():\n    random.seed(99)\n    value = random.random()\n    random.seed(99)\n    return value\n"
    honest = evaluate(task, "import random\n\n\ndef guess():\n    return random.Random(99).random()\n", pool)
    attacked = evaluate(task, rigged, pool)
    assert attacked.failures == 0 and attacked.utility == honest.utility < 1.0  # rigged would be exactly 1


def test_a_script_cannot_rewrite_the_evaluators_own_data_but_fills_its_output_file(
    pool: SandboxPool, tmp_path: Path
) -> None:
    (tmp_path / "initial_program.py").write_text("def answer():\n    return 7\n")
    (tmp_path / "evaluator.py").write_text(
        "import json, os, subprocess, sys, tempfile\n\n\n"
        "def evaluate(program_path):\n"
        "    with open('reference.json', 'w') as fh:\n"
        "        json.dump({'best': 10}, fh)\n"
        "    out = tempfile.NamedTemporaryFile(suffix='.json', delete=False).name  # empty, for the answer\n"
        "    script = (\n"
        "        'import importlib.util, json\\n'\n"
        "        f'spec = importlib.util.spec_from_file_location(\"c\", {program_path!r})\\n'\n"
        "        'c = importlib.util.module_from_spec(spec); spec.loader.exec_module(c)\\n'\n"
        "        f'json.dump(c.answer(), open({out!r}, \"w\"))\\n'\n"
        "    )\n"
        "    subprocess.run([sys.executable, '-c', script], check=True, timeout=20)\n"
        "    best = json.load(open('reference.json'))['best']\n"
        "    return {'combined_score': json.load(open(out)) / best}\n"
    )
    task = task_at(tmp_path)
    honest = evaluate(task, task.seed_algorithm, pool)
    assert honest.failures == 0 and honest.utility == pytest.approx(0.7), honest.artifacts
    tamper = (
        "import json\n\n"
        "with open('reference.json', 'w') as fh:\n"
        "    json.dump({'best': 7}, fh)\n\n\n"
        "def answer():\n    return 7\n"
    )
    attacked = evaluate(task, tamper, pool)
    assert attacked.utility == honest.utility  # not 1.0: reference.json was the evaluator's
    assert "not handed back to the evaluator: reference.json" in attacked.artifacts["stderr"]


def test_module_state_lives_between_calls_and_a_timed_out_call_restarts_the_process(
    pool: SandboxPool, tmp_path: Path
) -> None:
    program = (
        "COUNT = [0]\n\n\ndef bump():\n    COUNT[0] += 1\n    return COUNT[0]\n\n\n"
        "def hang():\n    while True:\n        pass\n"
    )
    (tmp_path / "initial_program.py").write_text(program)
    (tmp_path / "evaluator.py").write_text(
        DIRECT_IMPORT + "    first, second = module.bump(), module.bump()\n"
        "    signal.signal(signal.SIGALRM, _alarm)\n"
        "    signal.alarm(1)\n"
        "    try:\n"
        "        module.hang()\n"
        "        hung = 0.0\n"
        "    except TimeoutError:\n"
        "        hung = 1.0\n"
        "    finally:\n"
        "        signal.alarm(0)\n"
        "    return {'combined_score': 0.5, 'first': first, 'second': second, 'after': module.bump(), 'hung': hung}\n"
    )
    evaluation = evaluate(task_at(tmp_path), program, pool)
    assert evaluation.failures == 0, evaluation.artifacts
    metrics = evaluation.metrics
    assert (metrics["first"], metrics["second"]) == (1.0, 2.0)  # one process: the module's state lives on
    assert metrics["hung"] == 1.0 and metrics["after"] == 1.0  # killed at the limit; a fresh process after


def test_a_candidate_that_disarms_its_timer_cannot_pile_up_processes(
    pool: SandboxPool, tmp_path: Path
) -> None:
    (tmp_path / "config.yaml").write_text("evaluator:\n  timeout: 6\n")
    (tmp_path / "initial_program.py").write_text(HONEST_POINT)
    (tmp_path / "evaluator.py").write_text(
        DIRECT_IMPORT + "    timeouts = 0\n"
        "    signal.signal(signal.SIGALRM, _alarm)\n"
        "    for case in range(20):\n"
        "        signal.setitimer(signal.ITIMER_REAL, 0.2)\n"
        "        try:\n"
        "            module.solve(case)\n"
        "        except TimeoutError:\n"
        "            timeouts += 1\n"
        "        finally:\n"
        "            signal.setitimer(signal.ITIMER_REAL, 0)\n"
        "    return {'combined_score': 1.0 - timeouts / 20}\n"
    )
    stubborn = (
        "import signal\n\n\ndef solve(case):\n"
        "    signal.setitimer(signal.ITIMER_REAL, 0)\n"
        "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "    while True:\n        pass\n"
    )
    processes_seen = []

    class Counting:
        """Wraps the pool to count the candidate sessions started (never more than one at a time)."""

        def __init__(self) -> None:
            self.workers = pool.workers
            self.live = 0

        def run(self, job, rpc=None, stop=None):  # type: ignore[no-untyped-def]
            session = job.entry == "serve_session"
            self.live += session
            processes_seen.append(self.live)
            try:
                return pool.run(job, rpc, stop)
            finally:
                self.live -= session

        def cpu_slot(self, owner):  # type: ignore[no-untyped-def]
            return pool.cpu_slot(owner)

        def close(self) -> None:
            pass

    task = task_at(tmp_path)
    evaluation = task.evaluate(stubborn, executor=Counting())
    assert evaluation.utility == 0.0
    assert max(processes_seen) == 1  # the stubborn session was never joined by a second one
    assert evaluate(task_at(POINT), HONEST_POINT, pool).utility == pytest.approx(0.2829, abs=1e-4)


def test_the_usual_subprocess_calls_behave_as_for_a_process(pool: SandboxPool, tmp_path: Path) -> None:
    (tmp_path / "initial_program.py").write_text(
        "import sys\n\n\ndef double(n):\n    return 2 * n\n\n\nif __name__ == '__main__':\n    print(double(int(sys.argv[1])))\n"
    )
    (tmp_path / "evaluator.py").write_text(
        "import subprocess\nimport sys\n\n\n"
        "def evaluate(program_path):\n"
        "    done = subprocess.run([sys.executable, program_path, '7'], capture_output=True, text=True, timeout=20)\n"
        "    upper = subprocess.check_output(\n"
        "        [sys.executable, '-c', 'import sys; print(sys.stdin.read().upper())'], input=b'abc')\n"
        "    merged = subprocess.run(\n"
        "        [sys.executable, '-c', \"import sys; print('o'); print('e', file=sys.stderr); sys.exit(3)\"],\n"
        "        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)\n"
        "    try:\n"
        "        subprocess.run(['bash', '-c', 'id'])\n"
        "        refused = 0.0\n"
        "    except PermissionError:\n"
        "        refused = 1.0\n"
        "    return {'combined_score': float(done.stdout.strip()) / 14, 'upper': float(upper.strip() == b'ABC'),\n"
        "            'code': float(merged.returncode), 'merged': float(merged.stdout.split() == [b'o', b'e']),\n"
        "            'refused': refused}\n"
    )
    task = task_at(tmp_path)
    evaluation = evaluate(task, task.seed_algorithm, pool)
    assert evaluation.failures == 0, evaluation.artifacts
    assert evaluation.utility == 1.0
    assert {k: evaluation.metrics[k] for k in ("upper", "code", "merged", "refused")} == {
        "upper": 1.0,
        "code": 3.0,
        "merged": 1.0,
        "refused": 1.0,
    }
