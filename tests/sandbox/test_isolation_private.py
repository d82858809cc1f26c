"""Isolation between jobs: private scratch (a fresh Landlock ruleset per child) and private uids per zygote."""

from __future__ import annotations

import threading

import pytest

from selftaught.sandbox import Job, JobResult, SandboxPool, uids

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

OWNER = (
    "import os, time\n"
    "def f(x):\n"
    "    os.chmod('.', 0o777)\n"
    "    with open('secret', 'w') as fh:\n"
    "        fh.write('TOP-SECRET')\n"
    "    os.chmod('secret', 0o666)\n"
    "    time.sleep(3)\n"
    "    return os.getcwd()\n"
)
PROBE = (
    "import os\n"
    "def f(x):\n"
    "    found = []\n"
    "    try:\n"
    "        found.append(('listdir', os.listdir('/scratch')))\n"
    "    except OSError:\n"
    "        pass\n"
    "    for n in range(1, 400):\n"
    "        for k in (1, 2):\n"
    "            if os.getcwd() == f'/scratch/j{n}-{k}':\n"
    "                continue\n"
    "            try:\n"
    "                with open(f'/scratch/j{n}-{k}/secret') as fh:\n"
    "                    found.append(fh.read())\n"
    "            except OSError:\n"
    "                pass\n"
    "            try:\n"
    "                with open(f'/scratch/j{n}-{k}/planted', 'w') as fh:\n"
    "                    fh.write('x')\n"
    "                found.append(('wrote', n, k))\n"
    "            except OSError:\n"
    "                pass\n"
    "    return found\n"
)


def test_chmod_0777_on_scratch_opens_no_channel_to_another_child() -> None:
    with SandboxPool(workers=1) as pool:  # one zygote: both children share its /scratch tmpfs
        results: dict[str, JobResult] = {}

        def owner() -> None:
            results["owner"] = pool.run(
                Job(source=OWNER, entry="f", instances=[[0]], cpu_bound=False, instance_timeout=10)
            )

        thread = threading.Thread(target=owner)
        thread.start()
        import time

        time.sleep(1.0)
        results["probe"] = pool.run(
            Job(source=PROBE, entry="f", instances=[[0]], cpu_bound=False, instance_timeout=10)
        )
        thread.join()
        assert results["owner"].instances[0].output.startswith("/scratch/j")
        assert results["probe"].instances[0].output == [], results["probe"].instances[0].output


GETUID = "import os\ndef f(x):\n    return os.getuid()\n"


def test_two_pools_in_one_process_use_disjoint_uids() -> None:
    with SandboxPool(workers=1) as first, SandboxPool(workers=1) as second:
        a = first.run(Job(source=GETUID, entry="f", instances=[[0]])).instances[0].output
        b = second.run(Job(source=GETUID, entry="f", instances=[[0]])).instances[0].output
        blocks = {z.uid_block.index for z in first._zygotes + second._zygotes if z.uid_block is not None}
    assert a != b and len(blocks) == 2
    assert (a - uids.UID_BASE) // uids.BLOCK != (b - uids.UID_BASE) // uids.BLOCK


PEEK = (
    "import os\n"
    "import numpy as np\n"
    "def f(arr, i):\n"
    "    seen = []\n"
    "    for root in ('/inputs', os.environ.get('X', '/inputs')):\n"
    "        try:\n"
    "            seen.append(sorted(os.listdir(root)))\n"
    "        except OSError as exc:\n"
    "            seen.append(type(exc).__name__)\n"
    "    opened = []\n"
    "    for fd in range(5, 64):\n"
    "        try:\n"
    "            opened.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
    "        except OSError:\n"
    "            pass\n"
    "    return [float(arr.sum()), arr.shape, seen, opened]\n"
)


def test_shared_inputs_arrive_as_descriptors_in_their_turn_only(pool: SandboxPool) -> None:
    """Large arrays are shared files, but a child can neither list nor open the shared directory: each
    call brings its own files, so instance i never sees instance i+1's data."""
    import numpy as np

    arrays = [np.full((100, 100), float(i)) for i in range(3)]  # 80 KB each: shared, not inline
    result = pool.run(Job(source=PEEK, entry="f", instances=[[arr, i] for i, arr in enumerate(arrays)]))
    files = []
    for i, item in enumerate(result.instances):
        total, shape, seen, opened = item.output
        assert total == 10000.0 * i and shape == (100, 100)
        assert seen == ["PermissionError", "PermissionError"], seen
        assert len(set(opened)) == 1, opened  # its own file only (mmap keeps a dup of the fd)
        files.append(opened[0])
    assert len(set(files)) == 3  # each instance saw only its own file, never a later one
    # The same array in two jobs at once is still answered by both.
    again = pool.run(Job(source=PEEK, entry="f", instances=[[arrays[2], 2]]))
    assert again.instances[0].output[0] == 20000.0
