"""One long-lived sandboxed process of the candidate per evaluation, for the evaluator's imports and calls.

Why: an OpenEvolve evaluator that imports the candidate calls its functions many times (a cascade, one
run per seed, a check per point); one sandbox job per call costs tens of milliseconds each and loses the
module's state between calls. A session is one candidate job that stays up for the evaluation and asks
the host for its next request (`session.next(previous_answer)`), so the candidate's module lives on
between calls as it would in OpenEvolve, still in its own process, values still passed as data.

Time limits: the child arms a timer whose default action kills it before running each request (the
call's limit: what the evaluator asked, within what is left of the evaluation). The timer is only the
quick path: the candidate can disarm it, so the host does not rely on it. At the call's limit (plus a
short grace) the host closes the session, and closing sets the job's `Stop`: the zygote kills the
process, whatever it does. The broker closes the session when the evaluation ends, too, so no process
of a candidate outlives its evaluation. The next request gets a fresh session, once the old process is
gone. Answers are matched to requests by sequence number: an answer the candidate forges or sends twice
is ignored.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from selftaught.sandbox.executor import Executor, Stop
from selftaught.sandbox.job import ORDINARY_THREADS, Job, JobResult, Proxy

GRACE = 2.0  # seconds the host waits past a call's limit for the child's timer to act
SETUP_SLACK = 15.0
MAX_PRINTED = 64_000
POLL = 0.25


class CandidateSession:
    """The host side of one session job; `call` is thread-safe (calls are served one at a time)."""

    def __init__(
        self,
        executor: Executor,
        source: str,
        base: dict[str, Any],
        deadline: float,
        label: str,
        peer: Any = None,
    ) -> None:
        self._requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._replies: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._seq = itertools.count(1)
        self._deadline = deadline
        self._lock = threading.Lock()  # one call at a time
        self._state = threading.Lock()  # guards _expected and _waiting (touched by RPC threads)
        self._expected: int | None = None
        self._waiting = False
        self.closed = False
        self.generation = 0  # which candidate process of the evaluation this is (set by the broker)
        # Started beside the evaluator's job (`Job.peer_of`) and linked to it (the runner's first message
        # says whether its zygote gave it the socket): the two children talk over a socket of their own,
        # and this host only starts and ends the process. `ready` is set once that is known.
        self._may_link = peer is not None
        self.direct = False
        self.ready = threading.Event()
        self.ended = threading.Event()  # the session's job is over (its process is gone)
        self.stop = Stop()  # set by `close`: the zygote ends the process
        limit = max(0.05, deadline - time.monotonic())
        job = Job(
            source=source,
            entry="serve_session",
            instances=[[base, Proxy(name="session", methods=("next",))]],
            instance_timeout=limit,
            job_timeout=limit + SETUP_SLACK,
            cpu_bound=False,  # it runs under the CPU slot its evaluation holds
            label=f"{label} candidate session",
            peer_of=peer,
            library_threads=ORDINARY_THREADS,  # the candidate's numpy threads as in OpenEvolve's process
        )
        thread = threading.Thread(
            target=self._run, args=(executor, job), name="openevolve-session", daemon=True
        )
        thread.start()

    def _run(self, executor: Executor, job: Job) -> None:
        try:
            result: JobResult | str = executor.run(job, rpc=self._rpc, stop=self.stop)
        except Exception as exc:  # the executor itself failed (closed pool, lost cluster): say so
            result = f"{type(exc).__name__}: {exc}"
        self.closed = True
        self._replies.put(("end", result))
        self.ended.set()
        self.ready.set()

    def _rpc(self, proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """The child's `session.next(previous_answer)`: hand over its answer, wait for the next request."""
        if proxy != "session" or method != "next" or len(args) != 1 or kwargs:
            raise PermissionError(f"{proxy}.{method} is not available to the candidate")
        answer = args[0]
        if isinstance(answer, dict) and answer.get("hello") is True and not self.ready.is_set():
            self.direct = answer.get("linked") is True and self._may_link
            self.ready.set()
            if self.direct:
                return None  # linked: the runner serves the evaluator's socket, never this host
        with self._state:
            # Only the answer awaited is kept: anything else (forged, repeated, huge) is dropped at once.
            if (
                isinstance(answer, dict)
                and self._expected is not None
                and answer.get("seq") == self._expected
            ):
                self._expected = None
                self._replies.put(("answer", answer))
            # The runner asks one request at a time; a second `next()` (from the candidate's own threads)
            # is told to stop instead of holding a host thread and its payload.
            if self._waiting:
                return None
            self._waiting = True
        try:
            while not self.closed:  # polled, so a closed session frees this thread at once
                left = self._deadline - time.monotonic()
                if left <= 0:
                    return None
                try:
                    return self._requests.get(timeout=min(POLL, left))
                except queue.Empty:
                    continue
            return None
        finally:
            with self._state:
                self._waiting = False

    def call(
        self, request: dict[str, Any], limit: float, read: Callable[[Any], dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Send one request and wait for its answer (checked by `read`); None if the session is over."""
        with self._lock:
            if self.closed:
                return None
            seq = next(self._seq)
            with self._state:
                self._expected = seq
            self._requests.put({**request, "seq": seq, "limit": limit})
            started = time.monotonic()
            wait_until = started + limit + GRACE
            while True:
                try:
                    kind, payload = self._replies.get(timeout=max(0.0, wait_until - time.monotonic()))
                except queue.Empty:
                    self.close()
                    return {"timeout": True, "error": f"the candidate ran past its limit of {limit:.2f} s"}
                if kind == "end":
                    self._replies.put((kind, payload))  # keep the news for anyone else waiting
                    return _ended(payload, time.monotonic() - started >= limit)
                if isinstance(payload, dict) and payload.get("seq") == seq:
                    return read(payload)

    def close(self) -> None:
        """End the session: its zygote kills the process (the child's own timer is not relied on)."""
        self.closed = True
        self._requests.put(None)
        self.stop.set()


def _ended(result: JobResult | str, past_limit: bool) -> dict[str, Any]:
    """The answer for a call during which the session's process ended."""
    if past_limit:
        return {"timeout": True, "error": "the candidate ran past its limit (killed)"}
    if isinstance(result, str):
        reason = result
    elif result.setup_error is not None:
        reason = f"did not start: {result.setup_error}"
    else:
        errors = [item.error for item in result.instances if item.error]
        reason = errors[0] if errors else "exited"
    return {"error": f"the candidate's process ended: {reason}", "etype": "RuntimeError"}
