"""Honest programs: correct results, numpy and threads inside, timeouts, setup errors, large inputs."""

from __future__ import annotations

import numpy as np
import pytest

from selftaught.sandbox import Job, SandboxPool

from .util import backstop_reason, run_one

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs


def test_results_are_correct_and_in_order(pool: SandboxPool) -> None:
    src = "def f(a, b):\n    return {'sum': a + b, 'pair': (a, b)}\n"
    result = pool.run(Job(source=src, entry="f", instances=[[i, 2 * i] for i in range(20)]))
    assert result.setup_error is None
    assert [r.output for r in result.instances] == [{"sum": 3 * i, "pair": (i, 2 * i)} for i in range(20)]
    assert all(0 < r.seconds < 1 for r in result.instances)


def test_numpy_inside_keeps_shapes_and_dtypes(pool: SandboxPool) -> None:
    src = (
        "import numpy as np\n"
        "def f(m):\n"
        "    return {'col': (m.sum(axis=1, keepdims=True)), 'eig': float(np.linalg.eigvalsh(m @ m.T)[-1]),\n"
        "            'b': m > 0, 'i': np.int32(7), 'f': np.float32(0.5)}\n"
    )
    m = np.arange(12, dtype=np.float64).reshape(4, 3)
    out = run_one(pool, src, m).instances[0].output
    assert out["col"].shape == (4, 1) and out["col"].dtype == np.float64
    assert np.array_equal(out["col"], m.sum(axis=1, keepdims=True))
    assert out["b"].dtype == np.bool_ and out["b"].shape == (4, 3)
    assert out["eig"] == pytest.approx(float(np.linalg.eigvalsh(m @ m.T)[-1]))
    assert out["i"] == 7 and type(out["i"]) is np.int32  # numpy scalars keep their dtype
    assert out["f"] == 0.5 and type(out["f"]) is np.float32


def test_threads_work_inside(pool: SandboxPool) -> None:
    src = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "def f(n):\n"
        "    with ThreadPoolExecutor(8) as ex:\n"
        "        return sorted(ex.map(lambda x: x * x, range(n)))\n"
    )
    assert run_one(pool, src, 50).instances[0].output == [i * i for i in range(50)]


def test_timeout_fails_only_that_instance(pool: SandboxPool) -> None:
    src = "import time\ndef f(t):\n    time.sleep(t)\n    return t\n"
    job = Job(source=src, entry="f", instances=[[0.0], [5.0], [0.01]], instance_timeout=0.3, clock="wall")
    ok, slow, after = pool.run(job).instances
    assert ok.output == 0.0 and after.output == 0.01
    assert slow.error == "timeout" and 0.25 < slow.seconds < 1.5


def test_cpu_clock_times_out_spinners_by_cpu_and_sleepers_by_the_backstop(pool: SandboxPool) -> None:
    """CPU-clock calls: a spinner at its CPU limit, a sleeper at a few times the limit of sleep (wall
    time minus CPU time minus run-queue wait, so a busy machine never makes the sleeper's rule end the
    spinner or an honest call)."""
    src = (
        "import time\n"
        "def f(kind):\n"
        "    if kind == 'spin':\n"
        "        while True:\n"
        "            pass\n"
        "    if kind == 'sleep':\n"
        "        time.sleep(30)\n"
        "    return kind\n"
    )
    job = Job(
        source=src, entry="f", instances=[["spin"], ["sleep"], ["ok"]], instance_timeout=0.3, clock="cpu"
    )
    spin, sleep, ok = pool.run(job).instances
    assert spin.error == "timeout" and 0.3 <= spin.seconds < 0.5  # CPU seconds, whatever the load
    assert sleep.error is not None and sleep.error.startswith(backstop_reason(pool))
    assert sleep.seconds < 0.1  # it used almost no CPU
    assert ok.output == "ok" and ok.seconds < 0.3


def test_cpu_time_counts_every_thread(pool: SandboxPool) -> None:
    """Four spinning threads use the CPU limit up in about a quarter of the wall time on four cores;
    either way the measured time is the process's CPU time, so threads cannot hide work."""
    src = (
        "import threading\n"
        "def spin():\n"
        "    while True:\n"
        "        pass\n"
        "def f(n):\n"
        "    for _ in range(n):\n"
        "        threading.Thread(target=spin, daemon=True).start()\n"
        "    spin()\n"
    )
    job = Job(source=src, entry="f", instances=[[3]], instance_timeout=0.4, clock="cpu")
    [result] = pool.run(job).instances
    assert result.error == "timeout" and result.seconds >= 0.4


def test_setup_errors_are_reported(pool: SandboxPool) -> None:
    syntax = pool.run(Job(source="def f(:\n", entry="f", instances=[[1]]))
    assert syntax.setup_error is not None and "SyntaxError" in syntax.setup_error
    assert syntax.instances[0].error is not None
    missing = pool.run(Job(source="def g():\n    return 1\n", entry="f", instances=[[]]))
    assert missing.setup_error is not None and "'f'" in missing.setup_error


def test_program_exceptions_and_unserializable_outputs(pool: SandboxPool) -> None:
    src = "def f(kind):\n    if kind == 'raise':\n        raise ValueError('boom')\n    return object()\n"
    result = pool.run(Job(source=src, entry="f", instances=[["raise"], ["object"]]))
    assert result.instances[0].error == "exception: ValueError: boom"
    assert result.instances[1].error == "unserializable: object"
    assert "ValueError: boom" in result.stderr


def test_helpers_are_importable_inside(pool: SandboxPool) -> None:
    src = "from helpers import extract_code\ndef f(text):\n    return extract_code([text])\n"
    text = "idea\n```python\ndef g():\n    return 1\n```\n"
    assert run_one(pool, src, text).instances[0].output == ["def g():\n    return 1"]


def test_large_inputs_are_shared_and_copy_on_write(pool: SandboxPool) -> None:
    big = np.random.default_rng(0).random((300, 300))
    frozen = big.copy()
    frozen.setflags(write=False)
    src = "def f(m, i):\n    m[0, 0] = -1.0\n    return float(m.sum()) + i\n"
    result = pool.run(Job(source=src, entry="f", instances=[[big, 0], [frozen, 1], [big, 2]]))
    expected = float(big.sum()) - big[0, 0] - 1.0
    assert [r.output for r in result.instances] == pytest.approx([expected, expected + 1, expected + 2])
    assert big[0, 0] != -1.0  # the host's array is untouched


def test_memory_limit_applies_per_job(pool: SandboxPool) -> None:
    src = "def f(mb):\n    return len(bytearray(mb << 20))\n"
    small = pool.run(Job(source=src, entry="f", instances=[[300]], memory_mb=64))
    big = pool.run(Job(source=src, entry="f", instances=[[300]], memory_mb=512))
    assert small.instances[0].error is not None and "MemoryError" in small.instances[0].error
    assert big.instances[0].output == 300 << 20


def test_job_deadline_is_enforced_by_the_host(pool: SandboxPool) -> None:
    src = "import time\ndef f():\n    time.sleep(30)\n"
    result = pool.run(Job(source=src, entry="f", instances=[[], []], instance_timeout=20, job_timeout=0.5))
    assert all(r.error is not None for r in result.instances)
    assert "job-timeout" in {e.kind for e in result.events}
    assert result.wall_seconds < 25  # ended by the deadline, not by the 2 x 30 s the calls would sleep


def test_bad_jobs_are_refused_before_running(pool: SandboxPool) -> None:
    with pytest.raises(ValueError):
        pool.run(Job(source="", entry="not a name", instances=[]))
    with pytest.raises(ValueError):
        pool.run(Job(source="", entry="f", instances=[[]], instance_timeout=0))


def test_queueing_for_a_core_does_not_eat_the_job_deadline(pool: SandboxPool) -> None:
    """Six 0.8 s cpu-bound jobs with a 2 s deadline each, submitted at once to 2 workers, all finish
    (the last ones queue for 1.6 s, which must not count against their deadline)."""
    from concurrent.futures import ThreadPoolExecutor

    job = Job(
        source="import time\ndef f():\n    time.sleep(0.8)\n    return 1\n",
        entry="f",
        instances=[[]],
        job_timeout=2.0,
    )
    with ThreadPoolExecutor(6) as ex:
        results = list(ex.map(lambda _: pool.run(job), range(6)))
    # A job past its 2 s deadline would have failed, so every output arriving is the whole check (no
    # wall-time assertion: a busy machine may stretch the 0.8 s, never the queueing).
    assert [r.instances[0].output for r in results] == [1] * 6


def test_each_child_starts_with_fresh_randomness(pool: SandboxPool) -> None:
    src = (
        "import random\nimport numpy as np\ndef f():\n    return [random.random(), float(np.random.rand())]\n"
    )
    draws = [run_one(pool, src).instances[0].output for _ in range(4)]
    assert len({d[0] for d in draws}) == 4
    assert len({d[1] for d in draws}) == 4
