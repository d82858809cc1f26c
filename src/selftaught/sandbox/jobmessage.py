"""A `Job` checked and turned into the message its zygote receives: header, instance bodies, limits.

Kept apart from the pool because it is pure: nothing here touches a zygote, a thread or a clock, so the
rules of what a job may ask for (entry, clock, memory, seeds) and the limits it implies (the zygote's CPU
cap, the host's default deadline) are read in one place, and the Ray executor derives the same deadline.
"""

from __future__ import annotations

import keyword
import math
from typing import Any

from selftaught.sandbox.inside import wire
from selftaught.sandbox.job import (
    MAX_LIBRARY_THREADS,
    Job,
    Proxy,
    library_threads_memory_mb,
    ordinary_library_threads,
)

SETUP_TIMEOUT = 10.0
WALL_FACTOR = 3.0  # the zygote's backstop of a CPU-limited call (clock.backstop), in limits of sleep


def default_job_timeout(job: Job) -> float:
    """Setup, every instance at its limit (its backstop for CPU-limited jobs), a respawn each, slack.

    For CPU-limited jobs this is a starting point: whenever the zygote finds a call starved rather
    than asleep, it moves that call's backstop and reports by how much ("waited"), and the deadline
    moves by the same amount, so a busy machine never ends a job that is still computing.
    """
    per_call = job.instance_timeout if job.time_clock == "wall" else WALL_FACTOR * job.instance_timeout + 1.0
    return SETUP_TIMEOUT + len(job.instances) * (per_call + 0.5) + 5.0


def validate(job: Job) -> None:
    """Refuse a malformed job in the caller's thread, before it takes a CPU slot or a zygote."""
    if not isinstance(job.entry, str) or not job.entry.isidentifier() or keyword.iskeyword(job.entry):
        raise ValueError(f"job entry must be a function name, got {job.entry!r}")
    if not isinstance(job.source, str):
        raise TypeError("job source must be a string")
    if not all(isinstance(args, (list, tuple)) for args in job.instances):
        raise TypeError("each job instance must be a list of arguments")
    if not job.instance_timeout > 0 or not math.isfinite(job.instance_timeout):
        raise ValueError("instance_timeout must be a positive number of seconds")
    if job.clock not in (None, "cpu", "wall"):
        raise ValueError("job clock must be 'cpu', 'wall' or None")
    if job.memory_mb < 16:
        raise ValueError("memory_mb must be at least 16")
    if type(job.library_threads) is not int or not 0 <= job.library_threads <= MAX_LIBRARY_THREADS:
        raise ValueError(
            f"library_threads must be ORDINARY_THREADS or an int from 1 to {MAX_LIBRARY_THREADS}"
        )


def encode_instances(
    job: Job, share: wire.ArrayHook
) -> tuple[list[bytes], list[list[str]], dict[str, Proxy]]:
    """Each instance's arguments as one wire body, the shared input files each one needs passed, and
    the proxies found among the arguments (by name; two different proxies may not share one)."""
    proxies: dict[str, Proxy] = {}
    bodies: list[bytes] = []
    files: list[list[str]] = []
    for args in job.instances:
        names: list[str] = []
        bodies.append(wire.dumps(args, _recording(share, names), _proxy_hook(proxies)))
        files.append(sorted(set(names)))
    return bodies, files, proxies


def _recording(hook: wire.ArrayHook, names: list[str]) -> wire.ArrayHook:
    """`hook`, noting the shared file of every array it shares (the instance's files to pass)."""

    def record(arr: Any) -> dict[str, Any] | None:
        ref = hook(arr)
        if ref is not None:
            names.append(str(ref["file"]))
        return ref

    return record


def _proxy_hook(found: dict[str, Proxy]) -> wire.OtherHook:
    def hook(value: Any) -> dict[str, Any] | None:
        if not isinstance(value, Proxy):
            return None
        if found.get(value.name, value) != value:
            raise ValueError(f"two different proxies named {value.name!r} in one job")
        found[value.name] = value
        return {wire.TAG: "proxy", "name": value.name}

    return hook


def job_header(job: Job, job_id: int, proxies: dict[str, Proxy]) -> dict[str, Any]:
    """The `job` message: everything the zygote needs to start the job, and the limits it enforces."""
    specs = [
        {
            "name": p.name,
            "attributes": wire.encode(p.attributes),
            "methods": list(p.methods),
            "callable": p.callable,
            "live": list(p.live),
        }
        for p in proxies.values()
    ]
    # The kernel's last line (RLIMIT_CPU counts every thread): a job whose libraries may keep N threads
    # busy may spend N CPU seconds per second of its limits.
    threads = job.library_threads or ordinary_library_threads()
    cpu = (math.ceil(SETUP_TIMEOUT + len(job.instances) * job.instance_timeout) + 1) * threads
    # Likewise the address space: each library thread beyond the first maps a BLAS buffer and a stack,
    # which the limit counts; the job's own code keeps the memory_mb it asked for at any thread count.
    memory_mb = job.memory_mb + library_threads_memory_mb(threads)
    return {
        "op": "job",
        "id": job_id,
        "source": job.source,
        "entry": job.entry,
        "timeout": job.instance_timeout,
        "setup_timeout": SETUP_TIMEOUT,
        "memory_mb": memory_mb,
        "cpu_seconds": cpu,
        "proxies": specs,
        "clock": job.time_clock,
        "library_threads": threads,
        "seeds": _seeds(job),
        "setup_seed": job.setup_seed if isinstance(job.setup_seed, int) else None,
        "held": held_count(job),
    }


def held_count(job: Job) -> int:
    """How many leading instances wait for the host's verdict before the next one is sent."""
    if job.gate is None:
        return 0
    return max(0, min(int(job.gate.held), len(job.instances)))


def _seeds(job: Job) -> list[int] | None:
    if job.seeds is None:
        return None
    if len(job.seeds) != len(job.instances) or not all(type(seed) is int for seed in job.seeds):
        raise ValueError("job seeds must be one int per instance")
    return list(job.seeds)
