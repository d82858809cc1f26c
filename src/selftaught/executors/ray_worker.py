"""The worker side of the Ray executor: an actor per Ray worker process, holding its own sandbox pool.

Why an actor and not a plain Ray task: the zygotes of a `SandboxPool` are long-lived (numpy imported
once, seccomp filter pre-built, bubblewrap namespaces set up once); a task would pay that start-up on
every job. Each actor owns a pool on the node it was placed on, so generated code on a cluster node runs
behind exactly the same layers as on the host: the pool refuses to start (strong mode) when a layer is
missing there, and that refusal reaches the driver as a clear error. The sandbox is never skipped.

Large numpy arguments travel as Ray objects (`SharedArray`): put once into the object store by the host,
read zero-copy on the node, and handed to the local pool, which writes them once into its shared-inputs
directory. Arrays the host has frozen are cached here by object id, so evaluating hundreds of programs on
the same instances moves the instance data to each node once.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import ray

from selftaught.sandbox.job import Job, JobResult
from selftaught.sandbox.pool import SandboxPool

SHARE_BYTES = 64 << 10  # numpy arguments at least this large go as Ray objects, not inside the job
CACHE_BYTES = 1 << 30  # frozen arrays a worker keeps resolved, least recently used first out


@dataclass(frozen=True)
class SharedArray:
    """A large numpy argument replaced by a reference into Ray's object store.

    `cacheable` is set when the host's array was frozen (read-only, owning its data): the same object
    then always holds the same bytes, so a worker may keep it resolved across jobs.
    """

    ref: Any  # ray.ObjectRef
    cacheable: bool


class HostArrays:
    """The driver side of `SharedArray`: puts large arrays once, by identity for frozen ones."""

    def __init__(self, threshold: int = SHARE_BYTES) -> None:
        self.threshold = threshold
        self._lock = threading.Lock()
        self._frozen: dict[int, SharedArray] = {}

    def pack(self, job: Job) -> Job:
        """`job` with every large numpy argument replaced by a `SharedArray` (unchanged if none)."""
        instances = [_map_arrays(args, self._share) for args in job.instances]
        if all(new is old for new, old in zip(instances, job.instances, strict=True)):
            return job
        return replace(job, instances=instances)

    def _share(self, arr: np.ndarray) -> Any:
        if arr.nbytes < self.threshold:
            return arr
        frozen = not arr.flags.writeable and arr.base is None
        if not frozen:
            return SharedArray(ray.put(arr), cacheable=False)
        key = id(arr)
        with self._lock:
            shared = self._frozen.get(key)
        if shared is None:
            shared = SharedArray(ray.put(arr), cacheable=True)
            with self._lock:
                self._frozen[key] = shared
            weakref.finalize(arr, self._forget, key)
        return shared

    def _forget(self, key: int) -> None:
        with self._lock:
            self._frozen.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._frozen.clear()


def _map_arrays(value: Any, share: Any) -> Any:
    """Apply `share` to every numpy array inside lists, tuples and dict values; identity if unchanged."""
    if isinstance(value, np.ndarray):
        return share(value)
    if isinstance(value, (list, tuple)):
        items = [_map_arrays(item, share) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    if isinstance(value, dict):
        mapped = {key: _map_arrays(item, share) for key, item in value.items()}
        if all(mapped[key] is value[key] for key in value):
            return value
        return mapped
    return value


class SandboxWorker:
    """A Ray actor body: runs jobs without remote calls in a sandbox pool on its own node.

    Jobs with remote calls never come here (see `RayExecutor`), so this actor needs no way back to the
    host: it sees program text and instance inputs only, never labels, keys or budgets.
    """

    def __init__(self, mode: Literal["strong", "weak"], zygotes: int = 1) -> None:
        self.pool = SandboxPool(workers=zygotes, mode=mode)
        self.node = ray.get_runtime_context().get_node_id()
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cached_bytes = 0

    def info(self) -> dict[str, Any]:
        """Where this worker runs and which sandbox layers are active there (proof the pool is up)."""
        return {
            "node": self.node,
            "pid": os.getpid(),
            "mode": self.pool.mode,
            "zygotes": self.pool.workers,
            "layers": {layer.name: bool(layer.active) for layer in self.pool.layers},
        }

    def run(self, job: Job) -> JobResult:
        """Resolve shared arrays, then run the job in this node's pool (never raises for the program)."""
        return self.pool.run(self._resolve(job))

    def close(self) -> None:
        self.pool.close()
        with self._lock:
            self._cache.clear()
            self._cached_bytes = 0

    def _resolve(self, job: Job) -> Job:
        shared: list[SharedArray] = []
        _map_arrays_shared(job.instances, shared.append)
        if not shared:
            return job
        resolved: dict[int, np.ndarray] = {}
        missing: list[SharedArray] = []
        for item in shared:
            hit = self._cached(item) if item.cacheable else None
            if hit is not None:
                resolved[id(item)] = hit
            else:
                missing.append(item)
        for item, arr in zip(missing, ray.get([item.ref for item in missing]), strict=True):
            resolved[id(item)] = self._remember(item, arr) if item.cacheable else arr
        instances = [_substitute(args, resolved) for args in job.instances]
        return replace(job, instances=instances)

    def _cached(self, item: SharedArray) -> np.ndarray | None:
        key = item.ref.hex()
        with self._lock:
            arr = self._cache.get(key)
            if arr is not None:
                self._cache.move_to_end(key)
            return arr

    def _remember(self, item: SharedArray, arr: np.ndarray) -> np.ndarray:
        """A private, frozen copy: the local pool then shares it with its zygotes by identity."""
        own = np.array(arr, copy=True)
        own.setflags(write=False)
        with self._lock:
            self._cache[item.ref.hex()] = own
            self._cached_bytes += own.nbytes
            while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._cached_bytes -= old.nbytes
        return own


def _map_arrays_shared(value: Any, found: Any) -> None:
    if isinstance(value, SharedArray):
        found(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _map_arrays_shared(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _map_arrays_shared(item, found)


def _substitute(value: Any, resolved: dict[int, np.ndarray]) -> Any:
    if isinstance(value, SharedArray):
        return resolved[id(value)]
    if isinstance(value, (list, tuple)):
        return type(value)(_substitute(item, resolved) for item in value)
    if isinstance(value, dict):
        return {key: _substitute(item, resolved) for key, item in value.items()}
    return value
