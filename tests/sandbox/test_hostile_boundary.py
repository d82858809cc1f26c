"""Attacks on the trust boundary itself: what a child sends, how it treats its pipes and its scratch.

Each test asserts two things: the attacking job fails with a stated reason, and an honest job running
beside it on the same pool gets exactly the answers it gets alone (same zygotes, nothing lost).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings

from selftaught.sandbox import Job, JobResult, SandboxPool
from selftaught.sandbox.job import Proxy

from .test_frame_reader import REASONS, reference, streams
from .util import descendants

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

HONEST = "def f(n):\n    return sum(i * i for i in range(n))\n"
HONEST_ARGS = [[n] for n in (10, 1000, 20000, 7, 300)]
HONEST_ANSWERS = [sum(i * i for i in range(n)) for [n] in HONEST_ARGS]

FRAME = (
    "import json, os, struct, sys\n"
    "def frame(obj, *bodies):\n"
    "    if bodies:\n"
    "        obj = dict(obj, nb=len(bodies))\n"
    "    data = json.dumps(obj).encode()\n"
    "    out = struct.pack('>I', len(data)) + data\n"
    "    for b in bodies:\n"
    "        out += struct.pack('>I', len(b)) + b\n"
    "    return out\n"
    "def send(data):\n"
    "    view = memoryview(data)\n"
    "    while view:\n"
    "        view = view[os.write(4, view):]\n"
    "def my_nonce():\n"
    "    frame_ = sys._getframe(1)\n"
    "    while frame_ is not None and 'nonce' not in frame_.f_locals:\n"
    "        frame_ = frame_.f_back\n"
    "    return frame_.f_locals['nonce']\n"
)


def _zygote_pids(pool: SandboxPool) -> list[int]:
    return [z.proc.pid for z in pool._zygotes]


def beside(pool: SandboxPool, attack: Callable[[], JobResult]) -> JobResult:
    """Run `attack` while honest jobs run on the same pool; check the honest answers and the zygotes."""
    pids = _zygote_pids(pool)
    honest: list[JobResult] = []

    def run_honest() -> None:
        for _ in range(3):
            honest.append(pool.run(Job(source=HONEST, entry="f", instances=HONEST_ARGS, cpu_bound=False)))

    thread = threading.Thread(target=run_honest)
    thread.start()
    result = attack()
    thread.join()
    for got in honest:
        assert [r.output for r in got.instances] == HONEST_ANSWERS, [r.error for r in got.instances]
    assert _zygote_pids(pool) == pids, "a zygote died"
    after = pool.run(Job(source=HONEST, entry="f", instances=HONEST_ARGS))
    assert [r.output for r in after.instances] == HONEST_ANSWERS
    return result


def run_src(pool: SandboxPool, source: str, instances: list[list[object]], **kw: object) -> JobResult:
    return pool.run(Job(source=source, entry="f", instances=instances, cpu_bound=False, **kw))  # type: ignore[arg-type]


def test_forged_result_with_an_infinite_shape_fails_that_instance(pool: SandboxPool) -> None:
    src = FRAME + (
        "def f(x):\n"
        '    body = b\'{"__st__": "nd", "dtype": "<f8", "shape": [Infinity], "b64": ""}\'\n'
        "    send(frame({'t': 'result', 'n': my_nonce()}, body))\n"
        "    return 1\n"
    )
    result = beside(pool, lambda: run_src(pool, src, [[1]]))
    error = result.instances[0].error
    assert error is not None and "malformed output" in error and "shape" in error


def test_returned_lone_surrogate_is_refused(pool: SandboxPool) -> None:
    src = "def f(x):\n    return ['fine', 'bad \\udc80 text']\n"
    result = beside(pool, lambda: run_src(pool, src, [[1], [2]]))
    for item in result.instances:
        assert item.error is not None and "surrogate" in item.error


def test_closing_the_input_pipe_costs_only_that_job(pool: SandboxPool) -> None:
    src = "import os\ndef f(x):\n    if x == 0:\n        os.close(3)\n    return x\n"
    result = beside(pool, lambda: run_src(pool, src, [[0], [1], [2]]))
    assert result.instances[0].output == 0
    assert result.instances[1].error is not None  # its input went to a closed pipe: the child ended
    assert result.instances[2].output == 2  # a fresh child


def test_a_1500_level_directory_tree_is_removed_without_recursion(pool: SandboxPool) -> None:
    src = (
        "import os\n"
        "def f(depth):\n"
        "    for _ in range(depth):\n"
        "        os.mkdir('d')\n"
        "        os.chdir('d')\n"
        "        open('file', 'w').write('x')\n"
        "    return depth\n"
    )
    result = beside(pool, lambda: run_src(pool, src, [[1500]], instance_timeout=30.0))
    assert [r.output for r in result.instances] == [1500]
    roots = [f"/proc/{kid}/root/scratch" for pid in _zygote_pids(pool) for kid in descendants(pid)]
    roots = [root for root in roots if os.path.isdir(root)]
    assert roots
    for scratch in roots:
        assert os.listdir(scratch) == [], f"scratch left behind: {os.listdir(scratch)[:3]}"


def test_a_12_megabyte_event_frame_is_a_protocol_violation(pool: SandboxPool) -> None:
    src = (
        FRAME
        + "def f(x):\n    send(frame({'t': 'event', 'kind': 'network', 'detail': 'x' * (12 << 20)}))\n    return 1\n"
    )
    result = beside(pool, lambda: run_src(pool, src, [[1]]))
    error = result.instances[0].error
    assert error is not None and "protocol violation" in error and "header of" in error


@pytest.mark.parametrize("req", ["'r' * (25 << 20)", "'seven'", "-1", "2 ** 70", "[1, 2]", "True"])
def test_forged_request_ids_are_refused(pool: SandboxPool, req: str) -> None:
    src = (
        FRAME
        + f"def f(x):\n    send(frame({{'t': 'rpc', 'req': {req}, 'proxy': 'p', 'method': 'm'}}, b'[[], {{}}]'))\n    import time; time.sleep(3)\n"
    )
    result = beside(pool, lambda: run_src(pool, src, [[1]]))
    error = result.instances[0].error
    assert error is not None and "protocol violation" in error


def test_event_floods_are_capped_labelled_and_never_displace_host_events(pool: SandboxPool) -> None:
    src = FRAME + (
        "def f(x):\n"
        "    for i in range(2000):\n"
        "        send(frame({'t': 'event', 'kind': ['worker-died', 'job-timeout', 'Bad Kind!', 'network'][i % 4], 'detail': '\\udc80' * 3}))\n"
        "    os.write(4, b'\\xff' * 8)\n"
        "    import time; time.sleep(3)\n"
    )
    result = beside(pool, lambda: run_src(pool, src, [[1]]))
    child = [e for e in result.events if e.reported_by == "sandbox"]
    assert 0 < len(child) <= 100
    counts: dict[str, int] = {}
    for event in child:
        counts[event.kind] = counts.get(event.kind, 0) + 1
        event.detail.encode("utf-8")
    assert max(counts.values()) <= 16 and "Bad Kind!" not in counts and "other" in counts
    own = [e for e in result.events if e.kind == "protocol-violation"]
    assert own and all(e.reported_by == "zygote" for e in own)
    assert result.instances[0].error is not None and "protocol violation" in result.instances[0].error


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(streams())
def test_fuzzed_frames_on_the_control_pipe_cost_only_that_job(pool: SandboxPool, data: bytes) -> None:
    """The zygote side of the fuzzing: mutated valid message streams (test_frame_reader's) from a child.

    Whatever arrives, the zygote survives and serves an honest job next; a stream the reference parser
    refuses before any result frame fails the child's call as a protocol violation; no bytes at all
    leave the call's own answer alone.
    """
    src = f"import os\ndef f(x):\n    os.write(4, {data!r})\n    return 7\n"
    pids = _zygote_pids(pool)
    result = run_src(pool, src, [[1], [2]])
    first = result.instances[0]
    messages, outcome = reference(data, 1 << 30, 1 << 16, 1)
    if not data:
        assert [r.output for r in result.instances] == [7, 7]
    elif outcome in REASONS and not any(header.get("t") == "result" for header, _ in messages):
        assert first.error is not None and "protocol violation" in first.error, (outcome, first)
    else:
        assert first.output == 7 or (first.error is not None and first.error.strip()), first
    assert _zygote_pids(pool) == pids
    honest = pool.run(Job(source=HONEST, entry="f", instances=HONEST_ARGS[:2]))
    assert [r.output for r in honest.instances] == HONEST_ANSWERS[:2]


def test_an_oversized_remote_call_is_refused_per_call_by_the_zygote(pool: SandboxPool) -> None:
    calls: list[int] = []

    def handler(proxy: str, method: str, args: list[object], kwargs: dict[str, object]) -> float:
        calls.append(len(str(args[0])))
        return 0.5

    src = (
        "def f(utility):\n"
        "    try:\n"
        "        utility('x' * (5 << 20))\n"
        "    except Exception as exc:\n"
        "        first = str(exc)\n"
        "    return [first, utility('small')]\n"
    )
    job = Job(source=src, entry="f", instances=[[Proxy("utility", callable=True)]], cpu_bound=False)
    result = beside(pool, lambda: pool.run(job, rpc=handler))
    first, second = result.instances[0].output
    assert "exceeds the cap" in first and second == 0.5
    assert calls == [5]  # the oversized call never reached the host's handler
    assert any(e.kind == "rpc-too-large" and e.reported_by == "zygote" for e in result.events)


def test_remote_calls_in_flight_are_bounded_in_bytes(pool: SandboxPool) -> None:
    """Forged calls of 3.5 MB each, sent faster than a slow handler answers: the host holds at most
    64 MiB of them; the zygote stops reading the child until answers come back (the child blocks in its
    write and runs out of time), or refuses with an `rpc-flood` event what it had already read."""
    import time as _time

    active = [0, 0]

    def slow(proxy: str, method: str, args: list[object], kwargs: dict[str, object]) -> float:
        active[0] += 1
        active[1] = max(active[1], active[0])
        _time.sleep(4.0)
        active[0] -= 1
        return 0.0

    src = FRAME + (
        "def f(utility):\n"
        "    body = json.dumps([['x' * (7 << 19)], {}]).encode()\n"
        "    for req in range(1000, 1040):\n"
        "        send(frame({'t': 'rpc', 'req': req, 'proxy': 'utility', 'method': '__call__'}, body))\n"
        "    import time; time.sleep(2)\n"
        "    return 'done'\n"
    )
    job = Job(
        source=src,
        entry="f",
        instances=[[Proxy("utility", callable=True)]],
        cpu_bound=False,
        instance_timeout=10,
    )
    result = beside(pool, lambda: pool.run(job, rpc=slow))
    assert active[1] <= 64 // 3.5 + 1, active
    paced = result.instances[0].error == "timeout"
    assert paced or any(e.kind == "rpc-flood" for e in result.events), (result.instances, result.events[:5])


@pytest.mark.long  # hundreds of MB through the pipes
@pytest.mark.slow  # moves ~300 MB through the sandbox's pipes
def test_a_job_cannot_fill_the_host_with_outputs(pool: SandboxPool) -> None:
    """Each 20 MB array is a legitimate output, but a job of many of them would sit in the host until it
    is judged: past 256 MiB of outputs in all (as held in memory), further instances fail with a stated
    reason."""
    src = "import numpy as np\ndef f(i):\n    return np.full((20 << 20) // 8, float(i))\n"
    result = beside(pool, lambda: run_src(pool, src, [[i] for i in range(14)], instance_timeout=20.0))
    ok = [r for r in result.instances if r.ok]
    refused = [r for r in result.instances if not r.ok]
    assert 0 < len(ok) < 14 and refused  # 14 arrays of 20 MiB as held: over 256 MiB
    assert all(r.error is not None and "job's outputs exceed 256 MiB" in r.error for r in refused)
    assert all(float(r.output[0]) == i for i, r in enumerate(result.instances) if r.ok)


class _SlowInline:
    """An inline handler (served in the job's own collect thread, like the interactive tasks' router)
    that takes 0.5 s per call: forged calls then wait in the host unless something paces them."""

    inline = True

    def __init__(self) -> None:
        self.served = 0

    def __call__(self, proxy: str, method: str, args: list[object], kwargs: dict[str, object]) -> None:
        import time as _time

        self.served += 1
        _time.sleep(0.5)


def test_an_inline_handler_is_paced_and_the_job_deadline_holds_whatever_is_queued(pool: SandboxPool) -> None:
    """60 forged calls of 3.5 MB to an inline handler: before, all 60 were queued in the host (210 MB)
    and served one by one long past the job's 5 s deadline (checked only on an empty queue). Now the
    zygote stops reading the child once 64 MiB are unanswered, and the deadline ends the job."""
    handler = _SlowInline()
    src = FRAME + (
        "def f(host):\n"
        "    body = json.dumps([['x' * (7 << 19)], {}]).encode()\n"
        "    for req in range(1, 61):\n"
        "        send(frame({'t': 'rpc', 'req': req, 'proxy': 'host', 'method': 'answer'}, body))\n"
        "    return 'sent'\n"
    )
    job = Job(
        source=src,
        entry="f",
        instances=[[Proxy("host", methods=("answer",))]],
        cpu_bound=False,
        instance_timeout=60,
        job_timeout=5,
    )
    result = beside(pool, lambda: pool.run(job, rpc=handler))
    assert any(e.kind == "job-timeout" for e in result.events), result.events
    assert result.instances[0].error == "killed: job timeout"
    assert handler.served < 40, handler.served  # 60 without the deadline check


@pytest.mark.long  # hundreds of MB through the pipes
@pytest.mark.slow  # moves ~150 MB of JSON floats through the sandbox's pipes
def test_outputs_are_capped_at_their_decoded_size(pool: SandboxPool) -> None:
    """Twelve outputs of a million distinct floats: 11 MB of JSON each (132 MB, under the 256 MiB cap on
    encoded bytes), but 32 MB each as Python floats (384 MB held). Counted as held, some are refused."""
    src = "def f(i):\n    return [i + k + 0.5 for k in range(1_000_000)]\n"
    result = beside(pool, lambda: run_src(pool, src, [[i] for i in range(12)], instance_timeout=30.0))
    ok = [r for r in result.instances if r.ok]
    refused = [r for r in result.instances if not r.ok]
    assert 4 <= len(ok) < 12 and refused, [r.error for r in result.instances]
    assert all(r.error is not None and "as held in memory" in r.error for r in refused)
    assert all(r.output[0] == i + 0.5 for i, r in enumerate(result.instances) if r.ok)
