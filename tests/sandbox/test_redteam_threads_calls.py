"""Red-team attacks on library threads per job and on the split of remote-call serving.

- A job may ask for an ordinary process's BLAS threads (OpenEvolve's evaluators and candidates): the
  threads numpy's BLAS starts must carry every layer the program does (they are started last, after
  Landlock and seccomp); a program of a CPU-clocked job that raises its own BLAS thread count gets no
  discount (the clock counts every thread); a paper task's job keeps one thread whatever its program
  checks.
- Serving a remote call is three steps (decode within the job's budget, answer if the proxy allows it,
  reply): forged calls for methods, proxies and attributes the job was not given, malformed call bodies,
  and arguments that are small encoded but huge decoded are refused before the handler sees them, and a
  refused call leaves nothing of itself in the job's budget.

Every attack here was contained when written.
"""

from __future__ import annotations

import copy
import os
import threading
from typing import Any

import pytest

from selftaught.failure import FailureKind
from selftaught.sandbox import Job, Proxy, SandboxPool
from selftaught.sandbox.job import MAX_LIBRARY_THREADS
from selftaught.sandbox.jobrun import MAX_RPC_BYTES_IN_FLIGHT
from selftaught.tasks.evaluation import evaluate
from selftaught.tasks.registry import builtin_task

from .test_hostile_boundary import FRAME
from .util import descendants, healthy

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

BLAS_GETTER = (
    "import ctypes, os\n"
    "from numpy._core import _multiarray_umath\n"
    "_LIB = ctypes.CDLL(_multiarray_umath.__file__)\n"
    "_GET = ('scipy_openblas_get_num_threads64_', 'scipy_openblas_get_num_threads',\n"
    "        'openblas_get_num_threads64_', 'openblas_get_num_threads')\n"
    "_SET = ('scipy_openblas_set_num_threads64_', 'scipy_openblas_set_num_threads',\n"
    "        'openblas_set_num_threads64_', 'openblas_set_num_threads')\n"
    "def blas_threads():\n"
    "    return next(getattr(_LIB, n) for n in _GET if hasattr(_LIB, n))()\n"
    "def set_blas_threads(n):\n"
    "    for name in _SET:\n"
    "        if hasattr(_LIB, name):\n"
    "            setter = getattr(_LIB, name)\n"
    "            setter.argtypes = [ctypes.c_int]\n"
    "            setter(n)\n"
)


def _threads_of_children(pool: SandboxPool) -> dict[int, list[dict[str, list[str]]]]:
    """Host view: per sandboxed child (a process not running as root, below a zygote), the status
    fields of each of its threads that say which layers bind it."""
    found: dict[int, list[dict[str, list[str]]]] = {}
    for zygote in pool._zygotes:
        for pid in descendants(zygote.proc.pid):
            threads = []
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    fields: dict[str, list[str]] = {}
                    with open(f"/proc/{pid}/task/{tid}/status") as fh:
                        for line in fh:
                            key, _, value = line.partition(":")
                            if key in ("Seccomp", "NoNewPrivs", "Uid"):
                                fields[key] = value.split()
                    threads.append(fields)
            except OSError:
                continue
            if threads and threads[0].get("Uid", ["0"])[0] != str(os.getuid()):
                found[pid] = threads
    return found


# ---------------------------------------------------------------- library threads


@pytest.mark.parametrize("threads", [1, 4])
def test_every_blas_thread_carries_the_seccomp_filter_and_the_jobs_uid(
    pool: SandboxPool, threads: int
) -> None:
    """Seccomp and Landlock bind the calling thread and the threads it creates later, never earlier
    ones: the BLAS threads must start after both. Read by the host while the program waits in a
    remote call: every thread of the child runs with the filter (mode 2), no_new_privs and a uid that
    is not the host's; the child has exactly the threads its job asked for."""
    if not pool.worker_layers()["seccomp"]:
        pytest.skip("no seccomp on this kernel")
    seen: dict[str, Any] = {}

    def look(proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        seen["children"] = _threads_of_children(pool)
        return None

    src = BLAS_GETTER + "def f(host):\n    host.look()\n    return blas_threads()\n"
    result = pool.run(
        Job(
            source=src,
            entry="f",
            instances=[[Proxy("host", methods=("look",))]],
            cpu_bound=False,
            memory_mb=512,
            library_threads=threads,
        ),
        rpc=look,
    )
    assert result.instances[0].output == threads, (result.instances[0].error, result.stderr)
    children = seen["children"]
    # Only this job's child ran at that moment (this module's pool runs one test at a time).
    assert len(children) == 1, children
    (child,) = children.values()
    assert len(child) >= threads  # the main thread, the BLAS's threads - 1, the call channel's reader
    for fields in child:
        assert fields["Seccomp"] == ["2"], child
        assert fields["NoNewPrivs"] == ["1"], child
        assert fields["Uid"][0] != str(os.getuid()) and len(set(fields["Uid"])) == 1, child


def test_a_cpu_clocked_program_that_starts_blas_threads_itself_is_charged_for_all_of_them(
    pool: SandboxPool,
) -> None:
    """A paper task's job keeps one BLAS thread, but its program may call the BLAS's setter itself
    (ctypes is ordinary Python). The work then runs on threads the main thread only waits for: the
    call's charged time must be the process's CPU time (every thread), never the main thread's alone."""
    src = BLAS_GETTER + (
        "import threading, time\n"
        "import numpy\n"
        "def f():\n"
        "    set_blas_threads(4)\n"
        "    a = numpy.random.default_rng(1).random((300, 300))\n"
        "    def work():\n"
        "        for _ in range(60):\n"
        "            a @ a\n"
        "    p0, t0 = time.process_time(), time.thread_time()\n"
        "    worker = threading.Thread(target=work)\n"
        "    worker.start(); worker.join()\n"
        "    return [time.process_time() - p0, time.thread_time() - t0, blas_threads()]\n"
    )
    result = pool.run(
        Job(source=src, entry="f", instances=[[]], instance_timeout=60.0, clock="cpu", memory_mb=512)
    )
    item = result.instances[0]
    assert isinstance(item.output, list), (item.error, result.stderr)
    process, main, blas = item.output
    assert blas == 4  # the attack took: the program runs four BLAS threads
    assert main < 0.2 * process  # the main thread did (almost) none of the work itself
    assert item.seconds >= 0.95 * process  # and the host charged every thread's CPU time


def test_a_paper_tasks_program_runs_with_one_blas_thread_whatever_it_checks(pool: SandboxPool) -> None:
    """End to end through a built-in task: a program that fails every call unless numpy's BLAS runs one
    thread and every thread variable says 1 scores exactly as the seed does. The control: the same
    program in a job given two threads fails, so the check can tell."""
    task = copy.copy(builtin_task("three_sat"))
    # A limit no call comes near: at three_sat's own 0.1 s a call needing about the limit may pass once
    # and time out once (CPU seconds vary up to twofold on a shared machine), whatever the threads.
    task.instance_timeout = 10.0
    seed = task.seed_algorithm
    checked = (
        BLAS_GETTER
        + seed
        + "\n_ORIGINAL = algorithm\n"
        + "def algorithm(*args):\n"
        + "    variables = [os.environ.get(v) for v in ('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')]\n"
        + "    if blas_threads() != 1 or variables != ['1', '1', '1']:\n"
        + "        raise RuntimeError(f'threads: {blas_threads()} {variables}')\n"
        + "    return _ORIGINAL(*args)\n"
    )
    honest = evaluate(task, seed, split="val", seed=11, executor=pool)
    watched = evaluate(task, checked, split="val", seed=11, executor=pool)
    assert watched.failures == honest.failures
    assert [s.score for s in watched.per_instance] == [s.score for s in honest.per_instance]
    kinds = {i.error.kind for i in honest.per_instance + watched.per_instance if i.error is not None}
    assert kinds <= {FailureKind.INVALID_OUTPUT}  # the check raised nowhere; the limit decided nothing
    control = pool.run(
        Job(source=checked, entry="algorithm", instances=[[[[1, 2, 3]]]], memory_mb=512, library_threads=2)
    )
    assert "threads: 2" in str(control.instances[0].error)


# ---------------------------------------------------------------- remote calls, served in three steps

GIVEN = Proxy("host", attributes={"budget": 3}, methods=("ask",), live=("uses",))


class Recorder:
    """The host's handler: records every call it is asked to answer."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()

    def __call__(self, proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        with self.lock:
            self.calls.append((proxy, method, len(args)))
        if method == "__getattr__":
            return 7
        return "answered"


FORGED_CALLS = [
    ("host", "set_budget", [10**9]),  # a method the proxy does not declare
    ("host", "__call__", ["x"]),  # calling a proxy that is not callable
    ("host", "__getattr__", ["budget"]),  # a host read of an attribute that is not live
    ("host", "__getattr__", ["uses", "budget"]),  # a live name with a passenger
    ("utility", "__call__", ["x"]),  # a proxy this job was never given
    ("language_model", "prompt", ["x"]),
    ("host", "__init__", []),
    ("host", "_answer", []),
]


def test_forged_calls_the_proxy_does_not_allow_never_reach_the_handler(pool: SandboxPool) -> None:
    """Through the child's own channel (the same frames an honest call sends): every forged call is
    refused with the host's words; the handler answers only the control calls, a declared method and a
    live attribute."""
    src = (
        "def f(host, forged):\n"
        "    channel = host.ask._channel\n"
        "    out = []\n"
        "    for proxy, method, args in forged:\n"
        "        try:\n"
        "            out.append(repr(channel.call(proxy, method, tuple(args), {})))\n"
        "        except Exception as exc:\n"
        "            out.append(str(exc))\n"
        "    return [out, host.ask(1), host.uses]\n"
    )
    recorder = Recorder()
    forged = [list(call) for call in FORGED_CALLS]
    result = pool.run(
        Job(source=src, entry="f", instances=[[GIVEN, forged]], cpu_bound=False, memory_mb=512), rpc=recorder
    )
    output = result.instances[0].output
    assert isinstance(output, list), (result.instances[0].error, result.stderr)
    refusals, asked, uses = output
    assert [("no such method" in r) for r in refusals] == [True] * len(FORGED_CALLS), refusals
    assert asked == "answered" and uses == 7
    assert recorder.calls == [("host", "ask", 1), ("host", "__getattr__", 1)]
    assert sum(e.kind == "proxy-unknown-method" for e in result.events) == len(FORGED_CALLS)


MALFORMED_BODIES = [
    b"[1, 2]",  # args not a list
    b"[[1], [2]]",  # kwargs not a dict
    b"[[1], {}, 3]",  # three parts
    b"{}",
    b"null",
    b"[[1], {}",  # cut short
    b"\xff\xfe",
]


def test_malformed_call_bodies_are_refused_before_the_handler(pool: SandboxPool) -> None:
    """Raw frames written to the control pipe with call bodies that are not `[args, kwargs]`. Each is
    answered with an error (the job's call ids in the answers), the
    handler never runs, and the program's honest call after them is answered."""
    src = FRAME + (
        "import threading\n"
        "def f(host, bodies):\n"
        "    for n, body in enumerate(bodies):\n"
        "        send(frame({'t': 'rpc', 'req': 1000 + n, 'proxy': 'host', 'method': 'ask'}, body))\n"
        "    return host.ask('honest')\n"
    )
    recorder = Recorder()
    result = pool.run(
        Job(source=src, entry="f", instances=[[GIVEN, MALFORMED_BODIES]], cpu_bound=False, memory_mb=512),
        rpc=recorder,
    )
    assert result.instances[0].output == "answered", (result.instances[0].error, result.stderr)
    assert recorder.calls == [("host", "ask", 1)]
    assert healthy(pool)


def test_arguments_huge_once_decoded_are_refused_and_leave_the_budget_as_it_was(pool: SandboxPool) -> None:
    """Small encoded, huge decoded: a list of empty strings takes three bytes an item on the wire (under
    the zygote's 4 MiB for one call) and over fifty in the host. The host decodes it within the job's
    budget for calls in flight and refuses it by its decoded size; the handler never sees it. Then an
    honest call of 2 MiB is answered: a refusal that kept its decoded size reserved would leave no room."""
    count = 1_350_000
    assert count * 56 > MAX_RPC_BYTES_IN_FLIGHT  # an empty str (49 bytes) and its slot in the list (8)
    src = (
        "def f(host, count):\n"
        "    channel = host.ask._channel\n"
        "    huge = [''] * count\n"
        "    refusals = []\n"
        "    for _ in range(3):\n"
        "        try:\n"
        "            channel.call('host', 'ask', (huge,), {})\n"
        "            refusals.append('answered')\n"
        "        except Exception as exc:\n"
        "            refusals.append(str(exc)[:200])\n"
        "    del huge\n"
        "    return [refusals, host.ask(b'x' * (2 << 20))]\n"
    )
    recorder = Recorder()
    result = pool.run(
        Job(
            source=src,
            entry="f",
            instances=[[GIVEN, count]],
            cpu_bound=False,
            memory_mb=1024,
            instance_timeout=120.0,
        ),
        rpc=recorder,
    )
    output = result.instances[0].output
    assert isinstance(output, list), (result.instances[0].error, result.stderr)
    refusals, honest = output
    assert all("decoded" in r for r in refusals), refusals
    assert honest == "answered"
    assert recorder.calls == [("host", "ask", 1)]


def test_a_threaded_job_that_burns_every_core_ends_at_its_wall_limit_not_its_cpu_rlimit(
    pool: SandboxPool,
) -> None:
    """A wall-clocked job with four library threads has four times the CPU rlimit (the kernel's last
    line). The program ignores every catchable signal, disarms timers and keeps eight threads of BLAS
    products busy: the call still ends by its one-second wall limit (the zygote's), not by the rlimit
    tens of CPU seconds later, and the job's next instance runs in a fresh child with its four threads."""
    src = BLAS_GETTER + (
        "import signal, threading\n"
        "import numpy\n"
        "def f(x):\n"
        "    if x == 2:\n"
        "        return blas_threads()\n"
        "    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU):\n"
        "        signal.signal(sig, signal.SIG_IGN)\n"
        "    signal.setitimer(signal.ITIMER_REAL, 0)\n"
        "    a = numpy.random.default_rng(1).random((200, 200))\n"
        "    def burn():\n"
        "        while True:\n"
        "            a @ a\n"
        "    for _ in range(8):\n"
        "        threading.Thread(target=burn, daemon=True).start()\n"
        "    burn()\n"
    )
    result = pool.run(
        Job(
            source=src,
            entry="f",
            instances=[[1], [2]],
            instance_timeout=1.0,
            cpu_bound=False,
            memory_mb=512,
            library_threads=4,
        )
    )
    first, second = result.instances
    assert first.error is not None and first.error.startswith("timeout"), first
    assert second.output == 4, (second, result.stderr)
    assert healthy(pool)


def test_a_program_that_raises_its_blas_threads_leaves_the_next_job_at_one(pool: SandboxPool) -> None:
    """The BLAS's thread count lives in the child's memory: a program of a one-thread job that sets it
    to eight leaves the zygote's (and so every later child's) at one."""
    raise_it = BLAS_GETTER + "def f():\n    set_blas_threads(8)\n    return blas_threads()\n"
    look = BLAS_GETTER + "def f():\n    return blas_threads()\n"
    assert pool.run(Job(source=raise_it, entry="f", instances=[[]], memory_mb=512)).instances[0].output == 8
    for _ in range(3):  # both zygotes of the pool, whichever gets the job
        assert pool.run(Job(source=look, entry="f", instances=[[]], memory_mb=512)).instances[0].output == 1


def test_calls_in_flight_together_over_the_jobs_budget_never_reach_the_handler_at_once(
    pool: SandboxPool,
) -> None:
    """Calls each with a list of a million empty strings: 3 MB encoded (the zygote's window lets them
    all through), about 57 MB decoded, so one fits the job's 64 MiB budget for calls in flight and two
    do not. While the handler holds the first, two more arrive: both are refused by their decoded
    size and never reach the handler; once the first is released, the program's next such call is
    answered (nothing of the refusals stayed in the budget)."""
    src = (
        "import threading\n"
        "def f(host):\n"
        "    def big():\n"
        "        try:\n"
        "            return host.ask([''] * 1_000_000)\n"
        "        except Exception as exc:\n"
        "            return str(exc)[:200]\n"
        "    answers = []\n"
        "    first = threading.Thread(target=lambda: answers.append(big()))\n"
        "    first.start()\n"
        "    host.wait_held()\n"
        "    others = [threading.Thread(target=lambda: answers.append(big())) for _ in range(2)]\n"
        "    for t in others:\n"
        "        t.start()\n"
        "    for t in others:\n"
        "        t.join()\n"
        "    host.release()\n"
        "    first.join()\n"
        "    return [answers, big()]\n"
    )
    lock = threading.Lock()
    held = [0, 0]  # big calls the handler holds now, the most it held at once
    holding, released = threading.Event(), threading.Event()

    def handler(proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if method == "wait_held":
            return holding.wait(60.0)
        if method == "release":
            released.set()
            return None
        with lock:
            held[0] += 1
            held[1] = max(held[1], held[0])
        holding.set()
        if held[1] == 1:
            released.wait(60.0)  # only the first: a second admitted call would be a failure anyway
        with lock:
            held[0] -= 1
        return "answered"

    result = pool.run(
        Job(
            source=src,
            entry="f",
            instances=[[Proxy("host", methods=("ask", "wait_held", "release"))]],
            cpu_bound=False,
            memory_mb=1024,
            instance_timeout=120.0,
        ),
        rpc=handler,
    )
    output = result.instances[0].output
    assert isinstance(output, list), (result.instances[0].error, result.stderr)
    answers, later = output
    # The two that came while the first was held are refused (their answers come first), then the first.
    assert answers[-1] == "answered" and len(answers) == 3, answers
    assert all("decoded" in a for a in answers[:2]), answers
    assert later == "answered"
    assert held[1] == 1, held
    assert healthy(pool)


def test_the_most_library_threads_fit_a_default_jobs_memory(pool: SandboxPool) -> None:
    """Each OpenBLAS thread maps a buffer of its own (tens of MB of address space, which the job's
    memory limit counts and grows by). OpenEvolve's jobs run at the default memory, where a product
    over the most threads a job may have must work."""
    src = (
        "import numpy\n"
        "def f():\n"
        "    a = numpy.random.default_rng(1).random((600, 600))\n"
        "    return bool(numpy.allclose((a @ numpy.eye(600))[:3, :3], a[:3, :3]))\n"
    )
    job = Job(
        source=src,
        entry="f",
        instances=[[]],
        cpu_bound=False,
        instance_timeout=60.0,
        library_threads=MAX_LIBRARY_THREADS,
    )
    assert job.memory_mb == Job.memory_mb  # the default, as OpenEvolve's evaluator and candidate jobs use
    result = pool.run(job)
    assert result.instances[0].output is True, (result.instances[0].error, result.stderr[-500:])


# A product over every thread, then an allocation of address space only (numpy.empty maps, never
# touches): what the job's own code may still take after the BLAS has mapped its threads' buffers.
PRODUCT_THEN_ALLOCATE = (
    "import numpy\n"
    "def f(mib):\n"
    "    a = numpy.random.default_rng(1).random((600, 600))\n"
    "    product = bool(numpy.allclose((a @ numpy.eye(600))[:3, :3], a[:3, :3]))\n"
    "    try:\n"
    "        numpy.empty(mib << 20, dtype=numpy.uint8)\n"
    "    except MemoryError:\n"
    "        return [product, False]\n"
    "    return [product, True]\n"
)


@pytest.mark.parametrize("threads", [1, MAX_LIBRARY_THREADS])
def test_a_jobs_own_code_keeps_the_memory_it_asked_for_whatever_its_library_threads(
    pool: SandboxPool, threads: int
) -> None:
    """The address-space limit grows by what the library threads map (per thread beyond the first a
    32 MiB buffer and its stack, once a shared malloc arena): at MAX_LIBRARY_THREADS and memory_mb=512 a
    600x600 product over every thread completes (before the growth it failed to allocate and hung to
    its timeout), and the program may then still map 384 MiB but not 768 MiB, as in a one-thread job of
    the same memory, whose limit does not grow."""
    outputs = []
    for mib in (384, 768):
        job = Job(
            source=PRODUCT_THEN_ALLOCATE,
            entry="f",
            instances=[[mib]],
            cpu_bound=False,
            instance_timeout=60.0,
            memory_mb=512,
            library_threads=threads,
        )
        result = pool.run(job)
        outputs.append(result.instances[0].output)
        assert result.instances[0].error is None, (result.instances[0].error, result.stderr[-500:])
    assert outputs == [[True, True], [True, False]]
    assert healthy(pool)
