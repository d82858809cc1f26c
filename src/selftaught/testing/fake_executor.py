"""A fake executor for fast tests of the STOP layer: scripted results, never the job's code.

Every real job runs in the bubblewrap sandbox, which makes a test of the loop's bookkeeping (fallbacks,
resume, budgets, events, stored records) cost seconds per iteration. `ScriptedExecutor` fulfils the same
`Executor` protocol without a sandbox and without ever compiling or executing `Job.source`: it reads the
source as text only to find a script line

    # fake: NAME key=value ...

and calls the Python function registered under NAME — test code, trusted, written by the test author —
with the job's instance arguments. Proxies (`utility`, `language_model`) arrive as host-side stand-ins
whose calls go through the job's `RpcHandler`, exactly the path a sandboxed child's remote calls take, so
budgets, refusals and events are the real ones. A script models the sandbox's outcomes by raising
`FakeTimeout` (the instance ran past its limit), `FakeKilled` (the child died), or any other exception
(the program raised); returning `Reported(output, events)` adds sandbox events. A source without a script
line gets `default` (or a setup error when there is none), like a program that does not define its entry.

The real end-to-end tests stay (marked `slow`); this is for the layer above the sandbox.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from selftaught.sandbox.executor import RpcHandler, Stop
from selftaught.sandbox.job import InstanceResult, Job, JobResult, Proxy, SandboxEvent

SCRIPT_LINE = re.compile(r"^#\s*fake:\s*(?P<name>[\w-]+)(?P<params>[^\n]*)$", re.MULTILINE)
Script = Callable[..., Any]


class FakeTimeout(Exception):
    """Raised by a script: the instance ran past its time limit (the sandbox would have killed it)."""


class FakeKilled(Exception):
    """Raised by a script: the child died (memory, a signal); the message says how."""


@dataclass(frozen=True)
class Reported:
    """A script's output together with events the sandbox reported while it ran."""

    output: Any
    events: tuple[tuple[str, str], ...] = ()


def script_of(source: str) -> tuple[str, dict[str, str]] | None:
    """The script a source names (first `# fake:` line) and its key=value parameters, or None."""
    match = SCRIPT_LINE.search(source)
    if match is None:
        return None
    params = dict(part.split("=", 1) for part in match.group("params").split() if "=" in part)
    return match.group("name"), params


class _StandIn:
    """What a sandboxed program holds for a `Proxy`: attributes copied, calls sent to the host handler."""

    def __init__(self, proxy: Proxy, rpc: RpcHandler | None) -> None:
        object.__setattr__(self, "_proxy", proxy)
        object.__setattr__(self, "_rpc", rpc)
        for key, value in proxy.attributes.items():
            object.__setattr__(self, key, value)

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        rpc: RpcHandler | None = object.__getattribute__(self, "_rpc")
        proxy: Proxy = object.__getattribute__(self, "_proxy")
        if rpc is None:
            raise RuntimeError("this job has no remote-call handler")
        return rpc(proxy.name, method, list(args), dict(kwargs))

    def __getattr__(self, name: str) -> Any:
        proxy: Proxy = object.__getattribute__(self, "_proxy")
        if name in proxy.live:
            return self._call("__getattr__", (name,), {})
        if name in proxy.methods:
            return lambda *args, **kwargs: self._call(name, args, kwargs)
        raise AttributeError(name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not object.__getattribute__(self, "_proxy").callable:
            raise TypeError("this proxy is not callable")
        return self._call("__call__", args, kwargs)


@dataclass
class ScriptedExecutor:
    """`Executor` answering each job with its script's results (see the module docstring)."""

    scripts: dict[str, Script]
    default: Script | None = None
    jobs: list[Job] = field(default_factory=list)  # every job received, in order
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def cpu_slot(self, owner: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()  # scripted jobs take no CPU

    def run(self, job: Job, rpc: RpcHandler | None = None, stop: Stop | None = None) -> JobResult:
        with self._lock:
            self.jobs.append(job)
        started = time.monotonic()
        named = script_of(job.source)
        script = self.default if named is None else self.scripts.get(named[0])
        if script is None:
            name = "no script line" if named is None else f"no script named {named[0]!r}"
            return JobResult(
                [], setup_error=f"fake executor: {name}", wall_seconds=time.monotonic() - started
            )
        params = {} if named is None else named[1]
        events: list[SandboxEvent] = []
        results = [self._instance(job, script, params, args, rpc, events) for args in job.instances]
        return JobResult(results, events=events, wall_seconds=time.monotonic() - started)

    def _instance(
        self,
        job: Job,
        script: Script,
        params: dict[str, str],
        args: list[Any],
        rpc: RpcHandler | None,
        events: list[SandboxEvent],
    ) -> InstanceResult:
        started = time.monotonic()
        arguments = [_StandIn(arg, rpc) if isinstance(arg, Proxy) else arg for arg in args]
        try:
            output = script(*arguments, **params) if params else script(*arguments)
        except FakeTimeout:
            return InstanceResult(None, "timeout", job.instance_timeout)
        except FakeKilled as exc:
            return InstanceResult(None, f"killed: {exc}", time.monotonic() - started)
        except Exception as exc:
            return InstanceResult(None, f"exception: {type(exc).__name__}: {exc}", time.monotonic() - started)
        if isinstance(output, Reported):
            events.extend(SandboxEvent(kind, detail, "sandbox") for kind, detail in output.events)
            output = output.output
        return InstanceResult(output, None, time.monotonic() - started)

    def close(self) -> None:
        return None
