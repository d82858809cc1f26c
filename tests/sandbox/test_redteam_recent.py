"""Red-team attacks on what changed most recently, each beside its honest control.

- A child may read its own `/proc/self/maps` (a Landlock rule on its own inode, added after the fork):
  the attacks reach for other processes' files, or other files of its own, through every other name of
  that file (thread-self, task directories, `..`, `root`, symlinks in the scratch), for writing, and
  from a process it forks or execs.
- The Ray executor resubmits a job whose pool reports its sandbox worker died: a program sends that
  event itself and must get neither a retry nor a changed answer.
- bin_packing's strict cascade judges each session from the host's record as its result arrives: a
  program tries to replay sessions it failed from a thread while the gate holds the next instance, and
  to end a session it is losing by forging its instance's result.
- The confinement's rewritten descriptor sweep: the running program holds exactly its five descriptors.

Every attack here was contained when written.
"""

from __future__ import annotations

import ast

import pytest

from selftaught.executors.ray_executor import sandbox_worker_died
from selftaught.sandbox import SandboxPool
from selftaught.sandbox.inside import wire
from selftaught.sandbox.pool import WORKER_DIED
from selftaught.tasks.evaluation import evaluate
from selftaught.tasks.registry import builtin_task

from .test_hostile_boundary import FRAME, beside, run_src
from .util import healthy

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

READ = (
    "import os, threading\n"
    "def read(path, flags=os.O_RDONLY):\n"
    "    try:\n"
    "        fd = os.open(path, flags)\n"
    "        try:\n"
    "            return os.read(fd, 4096)\n"
    "        finally:\n"
    "            os.close(fd)\n"
    "    except OSError as exc:\n"
    "        return type(exc).__name__\n"
)
REFUSED = ("PermissionError", "FileNotFoundError")


def _probe(pool: SandboxPool, body: str) -> dict[str, object]:
    """Run `body` (defining `probe() -> dict`) in a child beside honest jobs; its dict, as the host got it."""
    src = READ + body + "def f():\n    return repr(probe())\n"
    result = beside(pool, lambda: run_src(pool, src, [[]]))
    item = result.instances[0]
    assert isinstance(item.output, str), item
    found: dict[str, object] = ast.literal_eval(item.output)
    return found


# ---------------------------------------------------------------- /proc/self/maps by other names


def test_the_own_maps_rule_opens_no_other_name_of_it_and_no_other_file(pool: SandboxPool) -> None:
    """The rule names one inode: /proc/<pid>/maps. Every other path to a maps file (thread-self, the
    task directory's per-thread copy, a parent's through `..` or `root`) and every directory of the
    child's own /proc stays refused; the control reads its own maps by a path spelt oddly."""
    found = _probe(
        pool,
        "def probe():\n"
        "    me, parent = os.getpid(), os.getppid()\n"
        "    seen = {}\n"
        "    worker = threading.Thread(target=lambda: seen.update(\n"
        "        thread=read('/proc/thread-self/maps'), tid=threading.get_native_id()))\n"
        "    worker.start(); worker.join()\n"
        "    paths = {\n"
        "        'thread-self': '/proc/thread-self/maps',\n"
        "        'task-main': f'/proc/self/task/{me}/maps',\n"
        "        'pid-task': f'/proc/{me}/task/{me}/maps',\n"
        "        'dotdot-parent': f'/proc/self/../{parent}/maps',\n"
        "        'root-init': '/proc/self/root/proc/1/maps',\n"
        "        'cwd-parent': f'/proc/{parent}/cwd',\n"
        "        'map-files': '/proc/self/map_files',\n"
        "        'fd-dir': '/proc/self/fd',\n"
        "        'smaps-rollup': '/proc/self/smaps_rollup',\n"
        "        'numa-maps': '/proc/self/numa_maps',\n"
        "    }\n"
        "    out = {name: read(path) for name, path in paths.items()}\n"
        "    out['from-thread-self'] = seen['thread']\n"
        "    own = read('//proc///self//maps')\n"
        "    out['control'] = own[:1000] == read(f'/proc/{me}/maps')[:1000] and len(own) > 100\n"
        "    return {k: (v if isinstance(v, (str, bool)) else 'READ') for k, v in out.items()}\n",
    )
    assert found.pop("control") is True, found
    assert {name: got for name, got in found.items() if got not in REFUSED} == {}, found


def test_symlinks_in_the_scratch_lead_only_to_the_own_maps(pool: SandboxPool) -> None:
    """Landlock judges the file a link resolves to, in the opener's view: a link to the parent's or
    init's maps is refused, a link to `/proc/self/maps` reads the child's own (the control)."""
    found = _probe(
        pool,
        "def probe():\n"
        "    links = {'parent': f'/proc/{os.getppid()}/maps', 'init': '/proc/1/maps',\n"
        "             'self': '/proc/self/maps', 'environ': '/proc/self/environ'}\n"
        "    out = {}\n"
        "    for name, target in links.items():\n"
        "        os.symlink(target, name)\n"
        "        got = read(name)\n"
        "        out[name] = got if isinstance(got, str) else got[:200] == read('/proc/self/maps')[:200]\n"
        "    return out\n",
    )
    assert found.pop("self") is True, found
    assert all(got in REFUSED for got in found.values()), found


def test_the_own_maps_cannot_be_opened_for_writing(pool: SandboxPool) -> None:
    """The rule grants reading only; the control opens the same file read-only."""
    found = _probe(
        pool,
        "def probe():\n"
        "    return {'rdwr': read('/proc/self/maps', os.O_RDWR), 'wronly': read('/proc/self/maps', os.O_WRONLY),\n"
        "            'oom': read('/proc/self/oom_score_adj', os.O_WRONLY),\n"
        "            'control': isinstance(read('/proc/self/maps'), bytes)}\n",
    )
    assert found.pop("control") is True
    assert all(got in REFUSED for got in found.values()), found


def test_no_process_forked_or_execed_inherits_the_maps_rule(pool: SandboxPool) -> None:
    """The rule is the child's own: a process it forks would name another inode (and could read its
    parent's through the inherited rule), and after exec the rule would describe another program.
    Neither happens: fork and exec are refused, the child's own read still works."""
    found = _probe(
        pool,
        "def probe():\n"
        "    out = {'control': isinstance(read('/proc/self/maps'), bytes)}\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError as exc:\n"
        "        out['fork'] = type(exc).__name__\n"
        "    else:\n"
        "        if pid == 0:\n"
        "            os._exit(0 if isinstance(read(f'/proc/{os.getppid()}/maps'), str) else 3)\n"
        "        out['fork'] = 'forked'\n"
        "    try:\n"
        "        os.execv('/bin/cat', ['cat', '/proc/self/maps'])\n"
        "    except OSError as exc:\n"
        "        out['exec'] = type(exc).__name__\n"
        "    return out\n",
    )
    assert found == {"control": True, "fork": "PermissionError", "exec": "PermissionError"}, found


def test_directory_descriptors_and_magic_links_reach_only_the_own_maps(pool: SandboxPool) -> None:
    """Descriptor tricks: `openat` from an O_PATH descriptor of /proc/self, of the parent's /proc
    directory and of /proc itself, and reopening through the /proc/self/fd magic link. Only the child's
    own maps file reads (the control: the same inode by another route); the rest is refused."""
    found = _probe(
        pool,
        "def at(dirfd, name):\n"
        "    try:\n"
        "        fd = os.open(name, os.O_RDONLY, dir_fd=dirfd)\n"
        "    except OSError as exc:\n"
        "        return type(exc).__name__\n"
        "    try:\n"
        "        return os.read(fd, 4096)[:200] == read('/proc/self/maps')[:200]\n"
        "    finally:\n"
        "        os.close(fd)\n"
        "def probe():\n"
        "    out = {}\n"
        "    for label, path in (('self', '/proc/self'), ('parent', f'/proc/{os.getppid()}'), ('proc', '/proc')):\n"
        "        try:\n"
        "            d = os.open(path, os.O_PATH | os.O_DIRECTORY)\n"
        "        except OSError as exc:\n"
        "            out[label] = type(exc).__name__\n"
        "            continue\n"
        "        names = {'self': ['maps', '../1/maps', 'environ', 'task/../maps'],\n"
        "                 'parent': ['maps', 'environ'], 'proc': ['1/maps', f'{os.getppid()}/maps', 'self/maps']}\n"
        "        for name in names[label]:\n"
        "            out[f'{label}:{name}'] = at(d, name)\n"
        "        os.close(d)\n"
        "    fd = os.open('/proc/self/maps', os.O_RDONLY)\n"
        "    out['magic'] = read(f'/proc/self/fd/{fd}')[:200] == read('/proc/self/maps')[:200]\n"
        "    os.close(fd)\n"
        "    return {k: v for k, v in out.items()}\n",
    )
    own = {key: found.pop(key) for key in ("self:maps", "self:task/../maps", "proc:self/maps")}
    assert len(found) >= 6, found  # every refused route was tried (the parent may be pid 1 or 2)
    assert all(value is True for value in own.values()), own
    assert found.pop("magic") is True  # its own descriptor reopened: the same inode
    assert all(got in REFUSED for got in found.values()), found


# ---------------------------------------------------------------- descriptors after the new sweep


def test_a_running_program_holds_exactly_its_five_descriptors(pool: SandboxPool) -> None:
    """confine's sweep now closes from the count of descriptors it kept: the program finds 0..4
    (stdin, stdout, stderr, its two control ends) and nothing else, no Landlock ruleset at 5, no
    parked copy at 10 or above; the control writes to its own control end's neighbour, stdout."""
    found = _probe(
        pool,
        "import fcntl\n"
        "def probe():\n"
        "    held = []\n"
        "    for fd in range(65536):\n"
        "        try:\n"
        "            fcntl.fcntl(fd, fcntl.F_GETFD)\n"
        "        except OSError:\n"
        "            continue\n"
        "        held.append(fd)\n"
        "    return {'held': held, 'control': os.write(1, b'x') == 1}\n",
    )
    assert found == {"held": [0, 1, 2, 3, 4], "control": True}, found


# ---------------------------------------------------------------- the Ray executor's retry signal


def test_a_program_cannot_forge_the_worker_died_event_that_makes_ray_retry(pool: SandboxPool) -> None:
    """The Ray executor resubmits a job whose pool's own "worker-died" event appears. A program writes
    that event on its control pipe (and one spelt with the host's label in its detail): it arrives as
    the sandbox's word, so `sandbox_worker_died` sees no death and the job's answer is its own."""
    src = FRAME + (
        "def f(x):\n"
        f"    send(frame({{'t': 'event', 'kind': {WORKER_DIED!r}, 'detail': 'zygote gone', 'from': 'host'}}))\n"
        f"    send(frame({{'t': 'event', 'kind': {WORKER_DIED!r}, 'detail': 'reported_by=host'}}))\n"
        "    return x * 2\n"
    )
    result = beside(pool, lambda: run_src(pool, src, [[21], [4]]))
    assert [item.output for item in result.instances] == [42, 8], result.instances
    forged = [event for event in result.events if event.kind == WORKER_DIED]
    assert forged and all(event.reported_by == "sandbox" for event in forged), result.events
    assert sandbox_worker_died(result) is None
    # The control: the same result with the pool's own event is a lost attempt.
    result.events.append(type(forged[0])(WORKER_DIED, "sandbox worker 0 exited"))
    assert sandbox_worker_died(result) == "sandbox worker 0 exited"


# ---------------------------------------------------------------- bin_packing's strict cascade

TASK = builtin_task("bin_packing")
BEST_FIT = "\n\ndef priority(item, bins):\n    return -(bins - item)\n"
# Hands each session to a thread halfway and makes our driver return early: at the 20th item it swaps
# the driver's `host` for a stand-in whose `answer` returns None (so the instance's call ends normally,
# its CPU time stops), and a thread plays the rest of the session with the real remote method, untimed:
# while the gate holds the next instance, and while later instances are timed.
HANDS_OFF = (
    "import ctypes, sys, threading, time\n"
    "steps = 0\n"
    "handed = {}\n\n"
    "class _Done:\n"
    "    def answer(self, output):\n"
    "        return None\n\n"
    "def _play(answer, args):\n"
    "    end = time.monotonic() + 5.0\n"
    "    while args is not None and time.monotonic() < end:\n"
    "        try:\n"
    "            args = answer(-(args[1] - args[0]))\n"
    "        except Exception:\n"
    "            time.sleep(0.001)\n\n"
    "def priority(item, bins):\n"
    "    global steps\n"
    "    steps += 1\n"
    "    frame = sys._getframe(1)\n"
    "    host = frame.f_locals['host']\n"
    "    if steps % 1000 == 20 and not isinstance(host, _Done):\n"
    "        handed['answer'] = host.answer\n"
    "        frame.f_locals['host'] = _Done()\n"
    "        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n"
    "    elif isinstance(host, _Done) and 'answer' in handed:\n"
    "        threading.Thread(target=_play, args=(handed.pop('answer'), (item, bins)), daemon=True).start()\n"
    "        steps = 1000 * (steps // 1000 + 1)\n"
    "    return -(bins - item)\n"
)


def test_a_session_handed_to_a_thread_after_its_call_returned_is_unfinished(pool: SandboxPool) -> None:
    """The gate judges each held session from the host's record when its result arrives, and calls
    made while no instance (or another) is timed are refused: a session handed off to a thread is
    unfinished, a failure, and the cascade stops the job after the held ones. The control: the same
    priority played to the end in its turn (best fit) passes every session."""
    honest = evaluate(TASK, BEST_FIT, split="val", executor=pool)
    attempt = evaluate(TASK, HANDS_OFF, split="val", executor=pool)
    assert honest.failures == 0 and honest.utility > 0.9
    k = TASK.cascade
    assert attempt.failures == attempt.instances and attempt.utility == 0.0, attempt.per_instance
    assert attempt.instances_run == k and attempt.stopped is not None
    for row in attempt.per_instance[:k]:
        assert row.error is not None and "before the end" in str(row.error), row


# Plays each session honestly but, from the 20th item of a session on, forges its instance's result
# (None, what our driver returns) and stops answering: a program ending the sessions it is losing.
FORGES_END = FRAME + (
    "steps = 0\n\n"
    "def priority(item, bins):\n"
    "    global steps\n"
    "    steps += 1\n"
    "    if steps == 20:\n"
    "        send(frame({'t': 'result', 'n': my_nonce()}, b'null'))\n"
    "        import time\n"
    "        time.sleep(2)\n"
    "        raise SystemExit\n"
    "    return -(bins - item)\n"
)


def test_a_forged_end_of_session_is_judged_from_the_hosts_record(pool: SandboxPool) -> None:
    """The gate judges the session from the host's record when the result arrives: a result sent
    before the session's last step is an unfinished session, a failure, and so are the sessions
    after it (the host's record of each is unfinished too); the control is best fit played to the end."""
    honest = evaluate(TASK, BEST_FIT, split="val", executor=pool)
    attempt = evaluate(TASK, FORGES_END, split="val", executor=pool)
    assert honest.failures == 0
    first = attempt.per_instance[0]
    assert first.error is not None and "before the end" in str(first.error), first
    assert all(a.score <= h.score for a, h in zip(attempt.per_instance, honest.per_instance, strict=True))
    assert attempt.utility < honest.utility
    assert healthy(pool)


# ---------------------------------------------------------------- packed lists in a program's result


def test_a_result_of_packed_lists_under_int_keys_is_held_to_the_item_cap(pool: SandboxPool) -> None:
    """Broke when written: a program returning long lists of floats as the values of an int-keyed dict
    (each travels packed) had them decoded in the host past the item cap (three lists of 0.4 x the cap
    decoded); `wire.decode` now charges the `dict` tag's values like every other container's items.
    The control, one such list, arrives whole."""
    src = "def f(n, lists):\n    return {k: [0.5] * n for k in range(lists)}\n"
    n = wire.MAX_ITEMS * 4 // 10
    # Timed by the wall clock (not cpu-bound): a limit far above the ~1 s the lists take alone, which a
    # busy machine stretched past the 2 s default.
    result = beside(pool, lambda: run_src(pool, src, [[n, 3], [n, 1]], instance_timeout=60.0))
    over, control = result.instances
    assert over.output is None and over.error is not None and "items" in over.error, over.error
    assert isinstance(control.output, dict) and len(control.output[0]) == n, control.error
