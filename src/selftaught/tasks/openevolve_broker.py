"""The host side of an OpenEvolve evaluation: runs the candidate in children apart from the evaluator.

Why: the evaluator (user code) executes the candidate (generated, hostile code). If both shared a
process, the candidate could patch the evaluator's module or the runner's answer and score what it
likes. So the evaluator's sandboxed child gets a `candidate` proxy instead of the candidate: each import
of the candidate, each call of one of its functions and each `python script.py` the evaluator starts
becomes a remote call answered here by a *separate* sandboxed process (source:
`sandbox/inside/openevolve/_selftaught_candidate.py`): imports and calls by the evaluation's candidate
session (`openevolve_session.py`), each script by a job of its own. Only plain data crosses, in both
directions.

Everything the evaluator's child sends is untrusted too (it ran next to nothing hostile, but it is user
code in a sandbox): requests are rebuilt field by field with type and size checks; each candidate job is
limited by what is left of the evaluation's time, and by a count per evaluation.

Lifetime: every candidate job is started with a `Stop` the broker keeps; `close()` (when the evaluator's
job is over) sets them all, so their zygotes kill the candidate's processes then and there, and waits
until they are gone. No process of an evaluation outlives it, whatever timers the candidate disarms.
The evaluation holds one CPU slot of the executor's fair gate for its whole course
(`OpenEvolveTask.evaluate`), so its candidate jobs run as `cpu_bound=False`: they are that slot's work.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from importlib import resources
from typing import Any

from selftaught.sandbox.executor import Executor, Stop
from selftaught.sandbox.job import ORDINARY_THREADS, Job, JobResult, Proxy
from selftaught.sandbox.remote_calls import calling_job
from selftaught.tasks.openevolve_session import CandidateSession

MAX_CANDIDATE_JOBS = 200  # per evaluation: scripts started plus candidate sessions (re)started
MAX_SCRIPT_CHARS = 2_000_000
MAX_FILES_BYTES = 8_000_000
MAX_ARGV = 1000
MAX_PRINTED = 64_000
MAX_RETURNED_BYTES = 16_000_000
MAX_RETURNED_FILES = 1000
MIN_TIMEOUT = 0.05
SETUP_SLACK = 15.0
_MODULE_OPS = ("describe", "call", "new", "method", "getattr", "setattr")
_HANDLE_OPS = ("method", "getattr", "setattr")
MAX_ARGS_BYTES = 4_000_000  # arguments travel to the candidate in one message of its session
MAX_VALUE_BYTES = 4_000_000
# Special methods an evaluator may call on a handle (other names must be public identifiers).
_DUNDERS = frozenset(
    ("__call__", "__len__", "__getitem__", "__setitem__", "__contains__", "__repr__", "__str__")
)


END_WAIT = 30.0  # seconds `close` waits for stopped jobs to be gone (a pool answers within a few)


class CandidateRefused(Exception):
    """A request the host will not run (malformed, over a cap, or past the evaluation's deadline)."""


def candidate_source() -> str:
    """The text of the candidate-side runner (sent as the job's source)."""
    path = resources.files("selftaught.sandbox.inside") / "openevolve" / "_selftaught_candidate.py"
    return path.read_text("utf-8")


class CandidateBroker:
    """`RpcHandler` of one evaluator job: proxy `candidate`, methods `module(request, timeout)` and
    `run(request, timeout)`. Thread-safe; `close()` it when the evaluator's job is over."""

    def __init__(
        self,
        executor: Executor,
        program: str,
        files: dict[str, bytes],
        deadline: float,
        label: str = "openevolve",
    ) -> None:
        self._executor = executor
        self._program = program
        self._files = files
        self._deadline = deadline  # time.monotonic() by which the whole evaluation must be over
        self._label = label
        self._source = candidate_source()
        self._lock = threading.Lock()
        self._session: CandidateSession | None = None
        self._module_ids = itertools.count()
        self._stops: set[Stop] = set()  # the scripts' jobs still running
        self._idle = threading.Condition(self._lock)
        self._closed = False
        self._generations = itertools.count(1)  # one number per candidate process: handles name theirs
        self.jobs = 0

    @staticmethod
    def proxy() -> Proxy:
        return Proxy(name="candidate", methods=("module", "run"))

    def __call__(self, proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if proxy != "candidate" or method not in ("module", "run") or kwargs or len(args) != 2:
            raise PermissionError(f"{proxy}.{method} is not available to evaluators")
        request, timeout = args
        limit = self._limit(timeout)
        if limit is None:
            return {"timeout": True, "error": "the evaluation's time is up"}
        if method == "module" and isinstance(request, dict) and request.get("op") in ("start", "stop"):
            return self._start(limit) if request["op"] == "start" else self._stop(request.get("session"))
        if method == "module":
            return self._module(self._module_request(request), limit)
        self._count_job()
        job_request = self._run_request(request)
        job = Job(
            source=self._source,
            entry="serve_request",
            instances=[[job_request]],
            instance_timeout=limit,
            job_timeout=limit + SETUP_SLACK,
            cpu_bound=False,  # it runs under the CPU slot its evaluation holds
            clock="wall",  # the evaluator's subprocess timeouts are wall-clock, as in OpenEvolve
            label=f"{self._label} candidate {job_request['op']}",
            library_threads=ORDINARY_THREADS,  # the candidate's numpy threads as in OpenEvolve's process
        )
        stop = Stop()
        with self._lock:
            if self._closed:
                return {"timeout": True, "error": "the evaluation is over"}
            self._stops.add(stop)
        try:
            result = self._executor.run(job, stop=stop)
        finally:
            with self._lock:
                self._stops.discard(stop)
                self._idle.notify_all()
        return _run_answer(result, limit)

    def _count_job(self) -> None:
        with self._lock:
            self.jobs += 1
            if self.jobs > MAX_CANDIDATE_JOBS:
                raise CandidateRefused(f"more than {MAX_CANDIDATE_JOBS} candidate runs in one evaluation")

    def _live_session(self, limit: float) -> CandidateSession | dict[str, Any]:
        """The evaluation's candidate session, a new one if it ended (or the answer saying why not).

        A new session is started beside the calling evaluator's job when the executor can (`peer_of`):
        the two children then talk over a socket of their own, not through this host.
        """
        with self._lock:
            session = self._session
        if session is not None and session.closed:
            # One candidate process at a time: a killed session ends at once; one that disarmed its
            # timer runs on, and then this call times out rather than start a second process.
            if not session.ended.wait(timeout=limit):
                return {"timeout": True, "error": "the candidate's previous process is still running"}
            session = None
        if session is None:
            self._count_job()
            with self._lock:
                if self._closed:
                    return {"timeout": True, "error": "the evaluation is over"}
                if self._session is None or self._session.closed:
                    base = {"program": self._program, "files": dict(self._files)}
                    self._session = CandidateSession(
                        self._executor, self._source, base, self._deadline, self._label, peer=calling_job()
                    )
                    self._session.generation = next(self._generations)
                session = self._session
        return session

    def _start(self, limit: float) -> dict[str, Any]:
        """The evaluator asks for a live candidate process: its number, and whether it is linked."""
        session = self._live_session(limit)
        if isinstance(session, dict):
            return session
        if not session.ready.wait(timeout=limit):
            return {"timeout": True, "error": "the candidate's process did not start in time"}
        left = max(0.0, self._deadline - time.monotonic())
        return {"session": session.generation, "direct": session.direct, "left": left}

    def _stop(self, generation: Any) -> dict[str, Any]:
        """The evaluator is done with linked process number `generation` (a call past its limit, or
        its socket closed): end its session, so the next start waits for it to be gone."""
        with self._lock:
            session = self._session
        if session is not None and session.direct and session.generation == generation:
            session.close()
        return {}

    def _module(self, request: dict[str, Any], limit: float) -> dict[str, Any]:
        """An import or call, served through this host by the evaluation's candidate session."""
        for _ in range(2):
            session = self._live_session(limit)
            if isinstance(session, dict):
                return session
            if session.direct:
                return {
                    "error": "the candidate's process is linked to the evaluator: call it there",
                    "etype": "RuntimeError",
                }
            if request["op"] in _HANDLE_OPS and request["session"] != session.generation:
                # The handle's process has ended (timeout, crash): its objects are gone with it.
                return {
                    "error": "ReferenceError: the candidate's process that made this object has ended",
                    "message": "the candidate's process that made this object has ended",
                    "etype": "ReferenceError",
                }
            answer = session.call(request, limit, _session_answer)
            if answer is not None:
                if request["op"] == "describe":
                    answer["module_id"] = request["module_id"]
                answer["session"] = session.generation
                return answer
        return {"error": "the candidate's process could not be started", "etype": "RuntimeError"}

    def close(self, wait: float = END_WAIT) -> None:
        """End every candidate process of the evaluation (called when the evaluator's job is over):
        their zygotes kill them; returns once they are gone (or after `wait` seconds)."""
        with self._lock:
            self._closed = True
            session, self._session = self._session, None
            stops = list(self._stops)
        if session is not None:
            session.close()
        for stop in stops:
            stop.set()
        until = time.monotonic() + wait
        if session is not None:
            session.ended.wait(wait)
        with self._idle:
            while self._stops and (left := until - time.monotonic()) > 0:
                self._idle.wait(left)

    def _limit(self, timeout: Any) -> float | None:
        """The candidate job's time limit: what the evaluator asked, within what the evaluation has left."""
        left = self._deadline - time.monotonic()
        if left < MIN_TIMEOUT:
            return None
        if isinstance(timeout, int) and not isinstance(timeout, bool) and 0 < timeout < 1 << 31:
            timeout = float(timeout)
        if isinstance(timeout, float) and math.isfinite(timeout) and timeout > 0:
            return max(MIN_TIMEOUT, min(timeout, left))
        return left

    def _module_request(self, request: Any) -> dict[str, Any]:
        """A session request rebuilt from what the evaluator's child sent (ids of imports are ours)."""
        if not isinstance(request, dict) or request.get("op") not in _MODULE_OPS:
            raise CandidateRefused("malformed candidate request")
        out: dict[str, Any] = {"op": str(request["op"])}
        out["module"] = _text(request.get("module", "program"), 200, "module name")
        out["rng"] = request.get("rng") if isinstance(request.get("rng"), dict) else None
        if out["op"] == "describe":
            out["module_id"] = next(self._module_ids)
            return out
        module_id = request.get("module_id")
        if not _small_int(module_id, 1 << 31):
            raise CandidateRefused("malformed module id")
        name = _text(request.get("name"), 200, "name")
        if not (name.isidentifier() and not name.startswith("__")) and not (
            out["op"] in _HANDLE_OPS and name in _DUNDERS
        ):
            raise CandidateRefused("malformed name")
        out.update(module_id=module_id, name=name)
        if out["op"] in _HANDLE_OPS:
            # Handles are ids the candidate's process made; the host only passes them on, never looks
            # them up (it has nothing to look them up in).
            handle, session = request.get("handle"), request.get("session")
            if not _small_int(handle, 1 << 63) or not _small_int(session, 1 << 31):
                raise CandidateRefused("malformed handle")
            out.update(handle=handle, session=session)
        if out["op"] != "getattr":
            args = request.get("args_wire")
            if not isinstance(args, bytes) or len(args) > MAX_ARGS_BYTES:
                raise CandidateRefused(f"malformed call arguments (encoded, at most {MAX_ARGS_BYTES} bytes)")
            out["args_wire"] = args
        return out

    def _run_request(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            raise CandidateRefused("malformed run request")
        out: dict[str, Any] = {"op": "run", "program": self._program, "files": dict(self._files)}
        out["script"] = _text(request.get("script"), MAX_SCRIPT_CHARS, "script")
        out["script_name"] = _text(request.get("script_name", "script.py"), 500, "script name")
        out["cwd"] = _text(request.get("cwd", ""), 500, "working directory")
        out["evaluator_dir"] = _text(request.get("evaluator_dir", ""), 500, "directory")
        argv = request.get("argv", [])
        if not isinstance(argv, list) or len(argv) > MAX_ARGV or not all(isinstance(a, str) for a in argv):
            raise CandidateRefused("malformed argv")
        out["argv"] = [a[:10_000] for a in argv]
        stdin = request.get("stdin")
        if stdin is not None:
            if not isinstance(stdin, bytes) or len(stdin) > MAX_FILES_BYTES:
                raise CandidateRefused("malformed stdin")
            out["stdin"] = stdin
        extra = request.get("files", {})
        if not isinstance(extra, dict) or not all(
            isinstance(k, str) and isinstance(v, bytes) for k, v in extra.items()
        ):
            raise CandidateRefused("malformed files")
        if sum(len(v) for v in extra.values()) > MAX_FILES_BYTES:
            raise CandidateRefused(f"more than {MAX_FILES_BYTES} bytes of files for one script")
        out["files"].update({k[:500]: v for k, v in extra.items()})
        return out


def _small_int(value: Any, bound: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < bound


def _text(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise CandidateRefused(f"malformed {what}")
    return value


def _failure(result: JobResult, limit: float) -> dict[str, Any] | None:
    """The answer for a job that did not produce an output (setup error, timeout, crash), else None."""
    if result.setup_error is not None:
        return {
            "error": f"the candidate's process did not start: {result.setup_error}",
            "etype": "RuntimeError",
        }
    outcome = result.instances[0] if result.instances else None
    if outcome is None or outcome.error is None:
        return None
    if outcome.error == "timeout" or outcome.error == "killed: job timeout":
        return {"timeout": True, "error": f"the candidate ran past its limit of {limit:.2f} s (killed)"}
    return {"error": f"the candidate's process failed: {outcome.error}", "etype": "RuntimeError"}


def _session_answer(output: Any) -> dict[str, Any]:
    """A session's answer to an import or call, rebuilt from what the candidate's process sent."""
    if not isinstance(output, dict):
        return {"error": "malformed answer from the candidate's process", "etype": "RuntimeError"}
    answer: dict[str, Any] = {"names": output["names"]} if "names" in output else {}
    # The value as the candidate's process encoded it: passed on unread (the evaluator's side decodes
    # it with the bounded decoder; handles inside mean nothing here).
    value = output.get("value_wire")
    if isinstance(value, bytes) and len(value) <= MAX_VALUE_BYTES:
        answer["value_wire"] = value
    if output.get("callable") is True:
        answer["callable"] = True
    carries = bool(answer)
    answer.update({key: str(output.get(key, ""))[:MAX_PRINTED] for key in ("stdout", "stderr")})
    if output.get("error") is not None:
        answer.update(
            error=str(output["error"])[:2000],
            message=str(output.get("message", output["error"]))[:2000],
            etype=str(output.get("etype", "RuntimeError"))[:100],
            traceback=str(output.get("traceback", ""))[:4000],
        )
    elif not carries:
        return {"error": "malformed answer from the candidate's process", "etype": "RuntimeError"}
    return answer


def _returned_files(files: Any, answer: dict[str, Any]) -> dict[str, bytes]:
    """The files a script hands back, capped here too (the candidate's side of the cap is its own)."""
    kept: dict[str, bytes] = {}
    total = 0
    for name, data in files.items() if isinstance(files, dict) else ():
        if not (isinstance(name, str) and isinstance(data, bytes)) or len(name) > 500:
            continue
        total += len(data)
        if total > MAX_RETURNED_BYTES or len(kept) >= MAX_RETURNED_FILES:
            answer["stderr"] += (
                f"\nselftaught: files past {MAX_RETURNED_FILES} or {MAX_RETURNED_BYTES} bytes not handed back\n".encode()
            )
            break
        kept[name] = data
    return kept


def _run_answer(result: JobResult, limit: float) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "stdout": result.stdout.encode("utf-8", "replace"),
        "stderr": result.stderr.encode("utf-8", "replace"),
    }
    failed = _failure(result, limit)
    if failed is not None and failed.get("timeout"):
        return {**answer, **failed}
    if failed is not None:
        answer["stderr"] += f"\nselftaught: {failed['error']}\n".encode()
        return {**answer, "returncode": 1, "files": {}}
    output = result.instances[0].output
    code = output.get("returncode") if isinstance(output, dict) else None
    files = output.get("files") if isinstance(output, dict) else None
    answer["returncode"] = (
        code if isinstance(code, int) and not isinstance(code, bool) and abs(code) < 1 << 31 else 1
    )
    answer["files"] = _returned_files(files, answer)
    return answer
