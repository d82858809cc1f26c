"""Host and zygote peak memory, and scratch use, under memory attacks from sandboxed jobs.

Usage: .venv/bin/python benchmarks/sandbox_memory_attacks.py [--rounds 2]

Runs each attack (as a sandboxed job on a strong-mode pool with 2 workers, several at once where it
matters) next to an honest job, and reports: whether the attacking job failed and why, whether the
honest job's answers were unchanged, the host's peak RSS (ru_maxrss), every zygote's peak RSS (VmHWM)
and the peak bytes used on a zygote's /scratch tmpfs (polled every 20 ms). Goals: host < 500 MB,
zygote < 200 MB.
"""

from __future__ import annotations

import argparse
import ast
import os
import resource
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from selftaught.sandbox import Job, SandboxPool
from selftaught.stop.capabilities import (
    CallRefused,
    CapabilityHandler,
    LanguageModelCapability,
    UtilityCapability,
)

FRAME = (
    "import json, os, struct, time\n"
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
)
ATTACKS = {
    "30 MB list result": "def f(x):\n    return [0] * (15 << 20)\n",
    "20 MB array result": "import numpy as np\ndef f(x):\n    return np.zeros((20 << 20) // 8)\n",
    "25 MB request id": FRAME
    + "def f(x):\n    send(frame({'t': 'rpc', 'req': 'r' * (25 << 20), 'proxy': 'p', 'method': 'm'}, b'[[], {}]'))\n    time.sleep(2)\n",
    "12 MB event frames x 20": FRAME
    + "def f(x):\n    for _ in range(20):\n        send(frame({'t': 'event', 'kind': 'network', 'detail': 'x' * (12 << 20)}))\n",
    "30 MB body dribbled": FRAME
    + (
        "def f(x):\n"
        "    data = frame({'t': 'result', 'n': 'x'}, b'1' * (30 << 20))\n"
        "    for i in range(0, len(data), 1 << 20):\n"
        "        send(data[i:i + (1 << 20)])\n"
        "        time.sleep(0.02)\n"
        "    time.sleep(3)\n"
    ),
    "2 GB scratch file": (
        "def f(x):\n"
        "    block = b'x' * (1 << 20)\n"
        "    with open('fill', 'wb') as fh:\n"
        "        for _ in range(2048):\n"
        "            fh.write(block)\n"
    ),
    "100k scratch files": "import os\ndef f(x):\n    for i in range(100000):\n        open(str(i), 'w').close()\n",
}
IMPROVER = (
    "def improve_algorithm(s, utility):\n"
    "    try:\n"
    "        return str(utility('x = 1\\n' * ((3 << 20) // 6)))\n"
    "    except Exception as exc:\n"
    "        return 'refused: ' + str(exc)\n"
)
HONEST = "def f(n):\n    return sum(i * i for i in range(n))\n"
HONEST_ARGS = [[n] for n in (10, 1000, 20000)]


def vm_hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def below(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(name))
    found, todo = [], [pid]
    while todo:
        for kid in parents.get(todo.pop(), []):
            found.append(kid)
            todo.append(kid)
    return found


def zygotes(pool: SandboxPool) -> list[int]:
    """The zygote processes (below each bwrap; the children they fork run only during jobs)."""
    out = []
    for z in pool._zygotes:
        for kid in below(z.proc.pid):
            try:
                with open(f"/proc/{kid}/comm") as comm, open(f"/proc/{kid}/cmdline", "rb") as cmd:
                    if comm.read().strip() != "bwrap" and b"zygote.main()" in cmd.read():
                        out.append(kid)
            except OSError:
                continue
    return out


class ScratchWatch(threading.Thread):
    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak, self.stop = pids, 0, False

    def run(self) -> None:
        while not self.stop:
            for pid in self.pids:
                try:
                    fs = os.statvfs(f"/proc/{pid}/root/scratch")
                    self.peak = max(self.peak, (fs.f_blocks - fs.f_bfree) * fs.f_frsize)
                except OSError:
                    pass
            time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with SandboxPool(workers=2) as pool:
        zpids = zygotes(pool)
        watch = ScratchWatch(zpids)
        watch.start()
        print(
            f"start: host {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
            f"zygotes {[round(vm_hwm_mb(p)) for p in zpids]} MB"
        )
        for name, source in ATTACKS.items():
            with ThreadPoolExecutor(4) as threads:
                attacks = [
                    threads.submit(
                        pool.run,
                        Job(
                            source=source,
                            entry="f",
                            instances=[[0]] * args.rounds,
                            cpu_bound=False,
                            instance_timeout=20,
                            memory_mb=1024,
                        ),
                    )
                    for _ in range(2)
                ]
                honest = threads.submit(
                    pool.run, Job(source=HONEST, entry="f", instances=HONEST_ARGS, cpu_bound=False)
                )
                results = [a.result() for a in attacks]
                ok = [r.output for r in honest.result().instances] == [
                    sum(i * i for i in range(n)) for [n] in HONEST_ARGS
                ]
            reasons = sorted({(r.error or "ok")[:70] for res in results for r in res.instances})
            print(
                f"{name:26s} attack: {reasons}  honest unchanged: {ok}  "
                f"host peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB  "
                f"zygote peaks {[round(vm_hwm_mb(p)) for p in zpids]} MB  scratch peak {watch.peak >> 20} MiB"
            )
        events: list[tuple[str, str]] = []
        utility = UtilityCapability(
            lambda s: float(len(ast.parse(s).body) > 0), "text", 5, lambda k, d: events.append((k, d))
        )
        handler = CapabilityHandler(
            utility, LanguageModelCapability(object(), lambda k, d: None), lambda k, d: None
        )
        job = Job(
            source=IMPROVER,
            entry="improve_algorithm",
            instances=[["x", utility.proxy()]],
            cpu_bound=False,
            instance_timeout=30,
            memory_mb=2048,
        )
        started = time.perf_counter()
        result = pool.run(job, rpc=handler)
        answer = result.instances[0].error or str(result.instances[0].output)
        print(
            f"{'3 MB utility() argument':26s} improver: {answer[:90]}  "
            f"events {[k for k, _ in events]}  {time.perf_counter() - started:.1f} s  "
            f"host peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
        watch.stop = True
        assert CallRefused  # the refusal type the improver sees
        print(
            f"end: host peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
            f"zygote peaks {[round(vm_hwm_mb(p)) for p in zpids]} MB, scratch peak {watch.peak >> 20} MiB"
        )


if __name__ == "__main__":
    main()
