"""In the evaluator's child: the direct socket to the candidate's process (stdlib + the sandbox's `wire`).

Why: through the host, each call of the evaluator into the candidate crosses four pipes and several
host threads (tens of milliseconds on a busy host, so a timing metric measured the broker). The host
starts the candidate's process beside the evaluator's, on the same sandbox worker, and its zygote links
the two children with a socket (`brood.link_peer`; this end arrives by `child.take_peer`). The host
still decides everything that matters: when a candidate process starts (one at a time, counted), how
long the evaluation may run, and when a process is ended; per call, the two children talk alone.

What comes from the candidate's process is hostile: read with a deadline and a size cap, the header
rebuilt field by field, values left as bytes for the bounded decoder (`wire.loads`).
"""

import contextlib
import itertools
import os
import select
import threading

import wire
from openevolve._selftaught_clock import real_monotonic

PING_LIMIT = 5.0  # seconds a ping may take (the process was just started: it answers at once)
GRACE = 2.0  # seconds past a call's limit for the candidate's own timer to end its process
MIN_LIMIT = 0.05
ANSWER_CAP = 32 << 20
MAX_TEXT = 64_000
NULL_CALLS = 16  # pings timing the null round trip of a new candidate process (before its code runs)


class _Overdue(Exception):
    """No answer by the call's limit plus grace (never the evaluator's own TimeoutError)."""


class Direct:
    """The socket to one candidate process (`generation`, as the host numbers them)."""

    def __init__(self, fd, generation, seconds_left):
        self.fd = fd
        self.generation = generation
        self.deadline = real_monotonic() + seconds_left  # the evaluation's, as the host said
        self.dead = False
        self._seq = itertools.count(1)
        self._module_ids = itertools.count()
        self._lock = threading.Lock()
        self.null_wait = 0.0  # the shortest wait of a call that does nothing (`calibrate`)
        os.set_blocking(fd, False)

    def calibrate(self):
        """Time the null round trip: the shortest wait for the answer to a request that runs nothing.

        Called on a new process before anything of the candidate is imported into it, so the candidate
        has no say in it (the evaluator's clocks leave at most this much of each wait out, see
        `_selftaught_clock`). A process that does not answer pings leaves nothing out."""
        best = None
        for _ in range(NULL_CALLS):
            waits = [0.0]
            answer = self.call({"op": "ping"}, PING_LIMIT, waits)
            if "value_wire" not in answer:
                best = None
                break
            best = waits[0] if best is None else min(best, waits[0])
        self.null_wait = best or 0.0

    def close(self):
        if not self.dead:
            self.dead = True
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def call(self, request, timeout, waits=None):
        """Send one request and wait for its answer (an answer dict as the host's broker gives).

        One call at a time (the evaluator may call from several threads, e.g. a thread pool with a
        timeout): their messages must not interleave on the socket; the others wait their turn.
        `waits[0]` grows by the seconds spent waiting: for the turn, and for the candidate's process to
        take the request and to answer (the candidate's time, as the evaluator's clocks count it)."""
        waits = [0.0] if waits is None else waits
        started = real_monotonic()
        with self._lock:
            waits[0] += real_monotonic() - started
            return self._call(request, timeout, waits)

    def _call(self, request, timeout, waits):
        if (
            request.get("op") in ("method", "getattr", "setattr")
            and request.get("session") != self.generation
        ):
            return {
                "error": "ReferenceError: the candidate's process that made this object has ended",
                "message": "the candidate's process that made this object has ended",
                "etype": "ReferenceError",
            }
        started = real_monotonic()
        left = self.deadline - started
        if left < MIN_LIMIT:
            return {"timeout": True, "error": "the evaluation's time is up"}
        limit = max(MIN_LIMIT, min(timeout, left)) if timeout else left
        seq = next(self._seq)
        fields = {key: value for key, value in request.items() if key not in ("args_wire", "args_bodies")}
        if fields.get("op") == "describe":
            fields["module_id"] = next(self._module_ids)
        fields.update(seq=seq, limit=limit)
        bodies = [request["args_wire"], *request.get("args_bodies", [])] if "args_wire" in request else []
        message = wire.pack_message({"request": wire.encode(fields)}, bodies)
        until = started + limit + GRACE
        try:
            self._send(message, until, waits)
            header, bodies = self._receive(until, waits)
        except _Overdue:
            self.close()
            return {"timeout": True, "error": f"the candidate ran past its limit of {limit:.2f} s"}
        except TimeoutError:
            self.close()  # the evaluator's own alarm, mid-call: an answer now would come out of turn
            raise
        except (EOFError, OSError, wire.WireError) as exc:
            return self._failed(exc, started, limit)
        except BaseException:
            self.close()
            raise
        if header.get("seq") != seq:
            self.close()
            return {"error": "the candidate's process answered out of turn", "etype": "RuntimeError"}
        answer = _rebuilt(header, bodies)
        if fields.get("op") == "describe" and "names" in answer:
            answer["module_id"] = fields["module_id"]
        answer["session"] = self.generation
        return answer

    def _failed(self, exc, started, limit):
        self.close()
        if real_monotonic() - started >= limit:
            return {"timeout": True, "error": "the candidate ran past its limit (killed)"}
        return {"error": f"the candidate's process ended: {exc}", "etype": "RuntimeError"}

    def _send(self, data, until, waits):
        view = memoryview(data)
        while view:
            _wait(self.fd, select.POLLOUT, until, waits)
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                continue

    def _receive(self, until, waits):
        reader = wire.FrameReader(ANSWER_CAP, wire.HEADER_CAP, 1 + wire.MAX_BODIES)
        while True:
            _wait(self.fd, select.POLLIN, until, waits)
            try:
                data = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                continue
            if not data:
                raise EOFError("the candidate's process closed its end")
            reader.feed(data)
            messages = reader.messages()
            if messages:
                return messages[0]


def _wait(fd, event, until, waits):
    poller = select.poll()
    poller.register(fd, event)
    started = real_monotonic()
    try:
        while True:
            left = until - real_monotonic()
            if left <= 0:
                raise _Overdue
            try:
                if poller.poll(max(1, int(left * 1000))):
                    return
            except InterruptedError:
                continue
    finally:
        waits[0] += real_monotonic() - started


def _rebuilt(header, bodies):
    """The candidate's answer, field by field (text capped, values kept as bytes for the decoder)."""
    answer = {key: str(header.get(key, ""))[-MAX_TEXT:] for key in ("stdout", "stderr")}
    if header.get("error") is not None:
        answer.update(
            error=str(header["error"])[:2000],
            message=str(header.get("message", header["error"]))[:2000],
            etype=str(header.get("etype", "RuntimeError"))[:100],
            traceback=str(header.get("traceback", ""))[:4000],
        )
        return answer
    if header.get("callable") is True:
        answer["callable"] = True
    elif header.get("names_wire") is True and bodies:
        names = wire.loads(bodies[0])
        answer["names"] = names if isinstance(names, dict) else {}
    elif bodies:
        answer["value_wire"], answer["value_bodies"] = bodies[0], bodies[1:]
    else:
        return {"error": "malformed answer from the candidate's process", "etype": "RuntimeError"}
    return answer
