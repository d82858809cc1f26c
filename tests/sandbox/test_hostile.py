"""The hostile-program corpus: each case must be contained and leave the host unharmed."""

from __future__ import annotations

import os
import socket

import pytest

from selftaught.sandbox import Job, SandboxPool

from .util import FAKE_KEY, MACHINE_SHARED_MEMORY, healthy, run_one

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs


def _text(result: object) -> str:
    return repr(result)


def test_fork_bomb_is_refused(pool: SandboxPool) -> None:
    src = "import os\ndef f():\n    pids = []\n    while True:\n        pids.append(os.fork())\n"
    result = run_one(pool, src)
    assert result.instances[0].error is not None
    assert "PermissionError" in result.instances[0].error
    assert healthy(pool)


def test_thread_bomb_hits_the_process_limit(pool: SandboxPool) -> None:
    src = (
        "import threading, time\n"
        "def f():\n"
        "    threads = []\n"
        "    for _ in range(10000):\n"
        "        t = threading.Thread(target=time.sleep, args=(5,), daemon=True)\n"
        "        t.start(); threads.append(t)\n"
        "    return len(threads)\n"
    )
    result = run_one(pool, src, memory_mb=2048)
    assert result.instances[0].error is not None
    assert healthy(pool)


def test_infinite_loop_times_out(pool: SandboxPool) -> None:
    result = run_one(pool, "def f():\n    while True:\n        pass\n", timeout=0.5)
    inst = result.instances[0]
    assert inst.error == "timeout"
    # CPU time past the 0.5 s limit, or at most the wall-clock backstop (3 x limit + 1 s) when a loaded
    # machine gives the child too little CPU to reach its limit first.
    assert 0.45 <= inst.seconds < 3.0
    assert healthy(pool)


def test_sigterm_ignoring_loop_is_killed(pool: SandboxPool) -> None:
    src = (
        "import signal\n"
        "def f():\n"
        "    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
        "        signal.signal(sig, signal.SIG_IGN)\n"
        "    while True:\n"
        "        pass\n"
    )
    result = run_one(pool, src, timeout=0.5)
    # Ignoring SIGTERM buys nothing: the child is killed (SIGKILL) once past its limit, not left to run
    # to the job's deadline, so its CPU seconds stay near the limit whatever the load.
    assert result.instances[0].error == "timeout"
    assert 0.45 <= result.instances[0].seconds < 3.0


def test_ten_gigabyte_allocation_fails_inside(pool: SandboxPool) -> None:
    result = run_one(pool, "def f():\n    return len(bytearray(10 * 1024**3))\n")
    assert result.instances[0].error is not None
    assert "MemoryError" in result.instances[0].error
    assert healthy(pool)


@pytest.mark.parametrize(
    "path", ["/etc/hostname", "/etc/shadow", "/root/.bashrc", "/root/.ssh", "/proc/1/environ"]
)
def test_host_files_are_invisible(pool: SandboxPool, path: str) -> None:
    src = "def f(p):\n    with open(p, 'rb') as fh:\n        return fh.read().decode('latin-1')\n"
    result = run_one(pool, src, path)
    assert result.instances[0].error is not None
    assert "root:x:0:0" not in _text(result)
    # (/etc/passwd is readable, but the sandbox's own: test_job_environment checks it lists no host user)


def test_home_and_selftaught_source_are_not_readable(pool: SandboxPool) -> None:
    import selftaught

    package_dir = os.path.dirname(selftaught.__file__)
    src = (
        "import os\n"
        "def f(paths):\n"
        "    seen = {}\n"
        "    for p in paths:\n"
        "        try:\n"
        "            seen[p] = os.listdir(p)\n"
        "        except OSError as exc:\n"
        "            seen[p] = type(exc).__name__\n"
        "    try:\n"
        "        import selftaught\n"
        "        seen['import'] = 'imported'\n"
        "    except ImportError:\n"
        "        seen['import'] = 'ImportError'\n"
        "    return seen\n"
    )
    paths = [os.path.expanduser("~"), package_dir, "/root", "/work", "/etc"]
    seen = run_one(pool, src, paths).instances[0].output
    assert seen["import"] == "ImportError"
    for path in paths:
        assert not isinstance(seen[path], list) or seen[path] in ([], [".pyenv"], ["main"]), (
            path,
            seen[path],
        )
    assert ".ssh" not in repr(seen) and "selftaught" not in repr(seen[package_dir])


def test_run_store_is_not_readable(pool: SandboxPool, tmp_path: os.PathLike[str]) -> None:
    store = os.path.join(tmp_path, "runs", "r1")
    os.makedirs(store)
    with open(os.path.join(store, "run.sqlite"), "w") as fh:
        fh.write("HIDDEN-LABELS-42")
    src = "def f(p):\n    return open(p).read()\n"
    result = run_one(pool, src, os.path.join(store, "run.sqlite"))
    assert result.instances[0].error is not None
    assert "HIDDEN-LABELS-42" not in _text(result)


def test_env_secrets_never_reach_the_program(pool: SandboxPool) -> None:
    src = (
        "import os\n"
        "def f():\n"
        "    found = dict(os.environ)\n"
        "    for p in ('/proc/self/environ', '/proc/1/environ', f'/proc/{os.getppid()}/environ'):\n"
        "        try:\n"
        "            found[p] = open(p, 'rb').read().decode('latin-1')\n"
        "        except OSError as exc:\n"
        "            found[p] = repr(exc)\n"
        "    return found\n"
    )
    result = run_one(pool, src)
    assert os.environ["OPENAI_API_KEY"] == FAKE_KEY  # the host does hold it
    assert result.instances[0].output is not None
    assert "OPENAI_API_KEY" not in result.instances[0].output
    assert FAKE_KEY not in _text(result)


def test_parent_memory_is_out_of_reach(pool: SandboxPool) -> None:
    src = (
        "import os\n"
        "def f():\n"
        "    out = {}\n"
        "    for pid in (os.getppid(), 1):\n"
        "        try:\n"
        "            with open(f'/proc/{pid}/mem', 'r+b') as fh:\n"
        "                fh.seek(0x400000); fh.write(b'x')\n"
        "            out[pid] = 'wrote'\n"
        "        except OSError as exc:\n"
        "            out[pid] = type(exc).__name__\n"
        "    return out\n"
    )
    out = run_one(pool, src).instances[0].output
    assert "wrote" not in out.values()
    assert healthy(pool)


def test_host_objects_are_not_found_through_gc_or_frames(pool: SandboxPool) -> None:
    hidden = "HIDDEN-TEST-LABEL-" + "7" * 12  # lives in this (host) process only
    src = (
        "import gc, sys\n"
        "def f(needle_prefix):\n"
        "    hits = [o for o in gc.get_objects() if isinstance(o, str) and o.startswith(needle_prefix)]\n"
        "    frames = sys._current_frames()\n"
        "    names = [k for fr in frames.values() for k in fr.f_globals]\n"
        "    return {'hits': hits, 'frame_globals': len(names)}\n"
    )
    result = run_one(pool, src, "HIDDEN-TEST-LABEL-7")
    assert hidden not in _text(result.instances[0].output)
    kinds = {e.kind for e in result.events}
    assert "introspection" in kinds


def test_loopback_listener_receives_nothing(pool: SandboxPool) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    src = (
        "import socket\n"
        "def f(port):\n"
        "    out = []\n"
        "    for family, kind in ((socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET, socket.SOCK_DGRAM)):\n"
        "        try:\n"
        "            s = socket.socket(family, kind)\n"
        "            s.connect(('127.0.0.1', port)); s.send(b'x')\n"
        "            out.append('connected')\n"
        "        except OSError as exc:\n"
        "            out.append(type(exc).__name__)\n"
        "    return out\n"
    )
    try:
        result = run_one(pool, src, port)
        assert "connected" not in result.instances[0].output
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    assert "network" in {e.kind for e in result.events}


def test_writing_outside_scratch_fails(pool: SandboxPool, tmp_path: os.PathLike[str]) -> None:
    target = os.path.join(tmp_path, "pwned.txt")
    src = (
        "def f(paths):\n"
        "    out = {}\n"
        "    for p in paths:\n"
        "        try:\n"
        "            with open(p, 'w') as fh:\n"
        "                fh.write('pwned')\n"
        "            out[p] = 'wrote'\n"
        "        except OSError as exc:\n"
        "            out[p] = type(exc).__name__\n"
        "    return out\n"
    )
    paths = [target, "/usr/pwned", "/tmp/pwned", "/sandbox/helpers.py", "/inputs/x.bin"]
    out = run_one(pool, src, paths).instances[0].output
    assert "wrote" not in out.values(), out
    assert not os.path.exists(target)


@MACHINE_SHARED_MEMORY
def test_two_gigabytes_in_scratch_are_refused_and_wiped(pool: SandboxPool) -> None:
    src = (
        "import os\n"
        "def f():\n"
        "    chunk = b'x' * (64 << 20)\n"
        "    written = 0\n"
        "    try:\n"
        "        for i in range(32):\n"
        "            with open(f'big{i % 8}-{i}', 'wb') as fh:\n"
        "                for _ in range(4):\n"
        "                    fh.write(chunk); written += len(chunk)\n"
        "    except OSError as exc:\n"
        "        return ['refused', written, type(exc).__name__]\n"
        "    return ['wrote', written]\n"
    )
    result = run_one(pool, src, timeout=20.0)
    inst = result.instances[0]
    assert inst.error is not None or inst.output[0] == "refused"
    if inst.ok:
        assert inst.output[1] < 2 * 1024**3
    # The next job starts in an empty scratch directory (but for its empty home and temporary
    # directories) and has the space back.
    again = run_one(
        pool,
        "import os\ndef f():\n    open('a', 'wb').write(b'y' * (200 << 20))\n"
        "    return sorted(os.listdir('.')), os.listdir('.home'), os.listdir('.tmp')\n",
    )
    assert again.instances[0].output == ([".home", ".tmp", "a"], [], [])


def test_killing_the_parent_fails(pool: SandboxPool) -> None:
    src = (
        "import os, signal\n"
        "def f():\n"
        "    out = []\n"
        "    for pid in (os.getppid(), 1, -1, 0):\n"
        "        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n"
        "            out.append('sent')\n"
        "        except OSError as exc:\n"
        "            out.append(type(exc).__name__)\n"
        "    return out\n"
    )
    result = run_one(pool, src)
    # kill(0) may only hit the child's own process group (itself): then it is simply dead.
    if result.instances[0].ok:
        assert result.instances[0].output[:3] == ["PermissionError"] * 3
    assert healthy(pool)


def test_ctypes_segfault_fails_one_instance_only(pool: SandboxPool) -> None:
    src = "import ctypes\ndef f(crash):\n    if crash:\n        ctypes.string_at(0)\n    return 'ok'\n"
    result = pool.run(Job(source=src, entry="f", instances=[[False], [True], [False]]))
    first, crashed, last = result.instances
    assert first.output == "ok" and last.output == "ok"
    assert crashed.error is not None and "SIGSEGV" in crashed.error


def test_rlimits_cannot_be_raised(pool: SandboxPool) -> None:
    src = (
        "import resource\n"
        "def f():\n"
        "    out = []\n"
        "    for lim in (resource.RLIMIT_CPU, resource.RLIMIT_AS, resource.RLIMIT_NPROC):\n"
        "        try:\n"
        "            resource.setrlimit(lim, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
        "            out.append('raised')\n"
        "        except (ValueError, OSError) as exc:\n"
        "            out.append(type(exc).__name__)\n"
        "    return out\n"
    )
    result = run_one(pool, src)
    assert "raised" not in result.instances[0].output
    assert "rlimit" in {e.kind for e in result.events}


def test_subprocess_and_system_fail(pool: SandboxPool) -> None:
    src = (
        "import os, subprocess\n"
        "def f():\n"
        "    out = {'system': os.system('echo pwned > /tmp/p')}\n"
        "    try:\n"
        "        out['run'] = subprocess.run(['/usr/bin/id'], capture_output=True).stdout.decode()\n"
        "    except OSError as exc:\n"
        "        out['run'] = type(exc).__name__\n"
        "    return out\n"
    )
    result = run_one(pool, src)
    out = result.instances[0].output
    assert out["system"] != 0
    assert "uid=" not in out["run"]
    assert "process-spawn" in {e.kind for e in result.events}


def test_printing_100_megabytes_is_capped(pool: SandboxPool) -> None:
    src = (
        "import sys\ndef f():\n    for _ in range(100):\n        print('x' * (1 << 20))\n    return 'done'\n"
    )
    result = run_one(pool, src, timeout=20.0)
    assert result.instances[0].output == "done"
    assert 0 < len(result.stdout) <= 64 * 1024


def test_huge_output_is_refused(pool: SandboxPool) -> None:
    result = run_one(pool, "def f():\n    return 'x' * (100 << 20)\n", memory_mb=1024)
    assert result.instances[0].error is not None and "too large" in result.instances[0].error
    assert healthy(pool)


def test_children_cannot_read_each_others_scratch() -> None:
    """Two concurrent children of the same zygote: their own rulesets, uids and 0700 dirs keep them apart."""
    import threading

    writer = "import os, time\ndef f():\n    open('secret.txt', 'w').write('SIBLING-SECRET')\n    time.sleep(1.5)\n    return os.getcwd()\n"
    reader = (
        "import os, time\n"
        "def f():\n"
        "    time.sleep(0.5)\n"
        "    root = os.path.dirname(os.getcwd())\n"
        "    found = []\n"
        "    try:\n"
        "        names = os.listdir(root)\n"
        "    except PermissionError:\n"
        "        return ['listing-refused']\n"
        "    for name in names:\n"
        "        try:\n"
        "            found.append(open(os.path.join(root, name, 'secret.txt')).read())\n"
        "        except OSError as exc:\n"
        "            found.append(type(exc).__name__)\n"
        "    return found\n"
    )
    with SandboxPool(workers=1) as single:  # not cpu-bound, so both run at once on the one zygote
        t = threading.Thread(
            target=single.run, args=(Job(source=writer, entry="f", instances=[[]], cpu_bound=False),)
        )
        t.start()
        seen = single.run(Job(source=reader, entry="f", instances=[[]], cpu_bound=False)).instances[0].output
        t.join()
    assert "SIBLING-SECRET" not in repr(seen)
    # Each child's Landlock ruleset names only its own scratch dir: even the listing is refused.
    assert seen == ["listing-refused"], seen


def test_later_instances_are_not_visible_in_inherited_memory(pool: SandboxPool) -> None:
    """The child must not find instance i+1 (or other jobs' inputs) through gc or the zygote's frames."""
    src = (
        "import gc, sys\n"
        "def f(i):\n"
        "    needle = ''.join(map(chr, [70, 85, 84, 85, 82, 69, 45, 77, 65, 82, 75, 69, 82]))  # built at run time, not a constant\n"
        "    hits = []\n"
        "    for obj in gc.get_objects():\n"
        "        try:\n"
        "            if isinstance(obj, (list, dict, tuple, bytes, bytearray)) and needle in repr(obj)[:1000000]:\n"
        "                hits.append(type(obj).__name__)\n"
        "        except Exception:\n"
        "            pass\n"
        "    frame = sys._getframe().f_back\n"
        "    while frame is not None:\n"
        "        if needle in repr(frame.f_locals)[:1000000]:\n"
        "            hits.append(frame.f_code.co_name)\n"
        "        frame = frame.f_back\n"
        "    return hits\n"
    )
    instances = [[f"now-{i}"] for i in range(3)] + [["FUTURE-MARKER"]]
    result = pool.run(Job(source=src, entry="f", instances=instances, instance_timeout=10))
    assert [r.output for r in result.instances[:3]] == [[], [], []], result.instances


def test_forged_protocol_messages_fail_the_instance(pool: SandboxPool) -> None:
    """Answers queued before the input was read, and garbage on the control pipe, are violations."""
    forge = (
        "import json, os, struct\n"
        "def frame(obj):\n"
        "    data = json.dumps(obj).encode()\n"
        "    return struct.pack('>I', len(data)) + data\n"
        "def f(kind):\n"
        "    if kind == 'ahead':\n"
        "        body = b'42'\n"
        "        os.write(4, frame({'t': 'result', 'n': 'guess', 'nb': 1}) + struct.pack('>I', 2) + body)\n"
        "        return 0\n"
        "    if kind == 'garbage':\n"
        "        os.write(4, b'\\xff' * 64)\n"
        "        import time; time.sleep(5)\n"
        "    return kind\n"
    )
    result = pool.run(Job(source=forge, entry="f", instances=[["ahead"], ["next"], ["garbage"], ["last"]]))
    first, second, third, last = result.instances
    assert first.error is not None and "protocol violation" in first.error
    assert second.output == "next"
    assert third.error is not None and "protocol violation" in third.error
    assert last.output == "last"
    assert "protocol-violation" in {e.kind for e in result.events}
