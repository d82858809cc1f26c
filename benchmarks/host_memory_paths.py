"""Host peak memory for the worst case of each path from a sandboxed job to the host.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/host_memory_paths.py [--only NAME] [--flood 400]

Every path runs in a fresh Python process (ru_maxrss only grows), on a strong-mode pool with one worker,
beside nothing else; the line printed per path is: what the attacking job got, the host's peak RSS
(ru_maxrss of that process), its wall time and whether the job's deadline held.

Paths:
- inline rpc flood: the job's handler is `inline` (as interactive tasks' session router is); the child
  forges `--flood` remote calls of 4 MiB each without waiting for answers (each takes the host a while
  to decode). Before: every one was queued in the host, and the job deadline was checked only when the
  queue was empty.
- threaded rpc flood: the same against an ordinary (threaded) handler that takes 0.5 s per call.
- decoded outputs: 16 instances each returning 2 million distinct floats (18 MB of JSON each, 64 MB as
  Python floats): the output cap used to count the encoded bytes only.
- oversized-call flood: 2,000 remote calls over the per-call cap, each answered by the zygote with an
  event to the host.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import threading
import time
from typing import Any

from sandbox_memory_attacks import FRAME  # a sibling script: benchmarks/ is first on sys.path

from selftaught.sandbox import Job, Proxy, SandboxPool

# The frame-forging preamble the memory-attack benchmark gives its attackers (one copy of the wire format).
FORGE = FRAME
# ~4 MiB of JSON holding about 600k floats: what a forger packs into one call (just under the per-call cap)
CALL_BODY = "BODY = ('[[[' + ','.join(['0.123456'] * 450_000) + ']], {}]').encode()\n"
FLOOD = (
    FORGE + CALL_BODY + "def f(host):\n"
    "    for req in range(1, COUNT + 1):\n"
    "        send(frame({'t': 'rpc', 'req': req, 'proxy': 'host', 'method': 'answer'}, BODY))\n"
    "    return 0\n"
)
OVERSIZED = (
    FORGE + "BIG = b'[' * ((4 << 20) + 16)\n" + "def f(host):\n"
    "    for req in range(1, 2001):\n"
    "        send(frame({'t': 'rpc', 'req': req, 'proxy': 'host', 'method': 'answer'}, BIG))\n"
    "    return 0\n"
)
FLOATS = "def f(x):\n    return [i + 0.5 for i in range(2_000_000)]\n"


class InlineHandler:
    """Answers at once, like the interactive tasks' session router."""

    inline = True

    def __call__(self, proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return None


def slow_handler(proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    time.sleep(0.5)
    return None


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_path(name: str, flood: int) -> None:
    host = Proxy(name="host", methods=("answer",))
    with SandboxPool(workers=1) as pool:
        base = peak_mb()
        if name in ("inline-rpc-flood", "threaded-rpc-flood"):
            job = Job(
                source=FLOOD.replace("COUNT", str(flood)),
                entry="f",
                instances=[[host]],
                cpu_bound=False,
                instance_timeout=60,
                job_timeout=30,
                memory_mb=2048,
            )
            handler: Any = InlineHandler() if name == "inline-rpc-flood" else slow_handler
        elif name == "oversized-call-flood":
            job = Job(
                source=OVERSIZED,
                entry="f",
                instances=[[host]],
                cpu_bound=False,
                instance_timeout=60,
                job_timeout=30,
            )
            handler = InlineHandler()
        elif name == "decoded-outputs":
            job = Job(
                source=FLOATS,
                entry="f",
                instances=[[0]] * 16,
                cpu_bound=False,
                instance_timeout=20,
                job_timeout=600,
                memory_mb=2048,
            )
            handler = None
        else:
            raise SystemExit(f"unknown path {name!r}")
        peak = [base]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], peak_mb())
                time.sleep(0.05)

        threading.Thread(target=watch, daemon=True).start()
        started = time.monotonic()
        result = pool.run(job, rpc=handler)
        wall = time.monotonic() - started
        done.set()
        errors = sorted({(r.error or "ok")[:60] for r in result.instances})
        kinds = sorted({e.kind for e in result.events})
        limit = job.job_timeout or 0
        print(
            f"{name:22s} host peak {peak_mb():7.0f} MB (pool started at {base:.0f} MB)  wall {wall:6.1f} s "
            f"(job deadline {limit:.0f} s)  instances {errors}  events {kinds}"
        )


PATHS = ("inline-rpc-flood", "threaded-rpc-flood", "decoded-outputs", "oversized-call-flood")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=PATHS)
    parser.add_argument("--flood", type=int, default=400)
    args = parser.parse_args()
    if args.only:
        run_path(args.only, args.flood)
        return
    for name in PATHS:
        subprocess.run([sys.executable, __file__, "--only", name, "--flood", str(args.flood)], check=False)


if __name__ == "__main__":
    main()
