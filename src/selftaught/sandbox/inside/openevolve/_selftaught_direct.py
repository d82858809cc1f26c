"""In the evaluator's child: the direct socket to the candidate's process (stdlib + the sandbox's `wire`).

Why: through the host, each call of the evaluator into the candidate crosses four pipes and several
host threads (tens of milliseconds on a busy host, so a timing metric measured the broker). The host
starts the candidate's process beside the evaluator's, on the same sandbox worker, and its zygote links
the two children with a socket (`brood.link_peer`; this end arrives by `child.take_peer`). The host
still decides everything that matters: when a candidate process starts (one at a time, counted), how
long the evaluation may run, and when a process is ended; per call, the two children talk alone.

What comes from the candidate's process is hostile: read with a deadline and a size cap, the header
rebuilt field by field, values left as bytes for the bounded decoder (`wire.loads`); bytes waiting on
the socket before a request is sent (an answer written ahead) end the process.

Each new process is timed before the candidate's code is imported into it (`Direct.calibrate`): the
null round trip and the cost per request byte, per answer byte and per packed number of the arguments,
the fastest of several pings each. `Direct.allowance` turns them into the most of one exchange's
non-CPU time the evaluator's clocks may leave out (`_selftaught_clock`).
"""

import contextlib
import itertools
import os
import select
import threading
import time

import frames
import numpy
import wire
from openevolve._selftaught_clock import real_monotonic, real_perf_counter

PING_LIMIT = 5.0  # seconds a ping may take (the process was just started: it answers at once)
GRACE = 2.0  # seconds past a call's limit for the candidate's own timer to end its process
MIN_LIMIT = 0.05
ANSWER_CAP = 32 << 20
MAX_TEXT = 64_000
NULL_CALLS = 16  # pings timing the null round trip of a new candidate process (before its code runs)
FIRST_CALLS = 8  # more null pings, each from a new thread (a thread's first exchange: `Direct.allowance`)
PAYLOAD_ROUNDS = 6  # rounds of the three payload pings (the fastest of each kind is kept)
PAYLOAD_BYTES = 1 << 17  # bytes of the raw array a payload ping sends, or asks back
PAYLOAD_ITEMS = PAYLOAD_BYTES // 8  # floats of the packed list a payload ping sends (the same bytes)
RESULT_SLACK = 1 << 16  # answer bytes credited beyond twice the request's (`Direct.allowance`)
EMPTY_ARGS = b"[[],{}]"  # the arguments of a call that takes none


class Rates:
    """What a new candidate process was timed to cost per unit, by trusted code before the candidate's
    code was imported into it (`Direct.calibrate`): seconds per request byte, per answer byte and per
    number of a packed list decoded from the arguments, beyond the null round trip of a message of
    `null_sent`/`null_received` bytes. All zero when not measured (nothing is then credited for them)."""

    def __init__(self):
        self.null_sent = self.null_received = 0
        self.per_sent = self.per_received = self.per_item = 0.0


_EXCHANGED = threading.local()  # `done`: this thread has exchanged with a candidate's process before


def _first_exchange():
    """Whether this is the calling thread's first exchange with a candidate's process (and mark it)."""
    first = not getattr(_EXCHANGED, "done", False)
    _EXCHANGED.done = True
    return first


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
        self.first_null_wait = 0.0  # the same made as a new thread's first exchange (at least `null_wait`)
        self.rates = Rates()
        self._sent = self._received = 0  # bytes of the last exchange (under `_lock`)
        self._answered = False  # the last exchange got its answer
        self.allowed_total = 0.0  # seconds of allowance granted so far (for reports and tests)
        self._io_cpu = 0.0  # this thread's CPU seconds on the socket in the last exchange (under `_lock`)
        self._until = 0.0  # the exchange's deadline (real monotonic seconds) and its waits (`_ready`)
        self._waits = [0.0]
        self._poller = select.poll()
        # Answers are read in few system calls, each body straight into a buffer of its size (a bytes
        # read sized for the largest answer would cost a large allocation on every call).
        self.reader = frames.SocketReader(fd, wait=lambda: self._ready(select.POLLIN))

    def calibrate(self):
        """Time what a call costs the candidate's process that is not the candidate's: the null round
        trip (the shortest wait for the answer to a request that runs nothing) and, beyond it, the cost
        per byte of a request (an array argument, decoded as a call's arguments are), per byte of an
        answer (a ready-made array asked back) and per number of a packed list decoded from the
        arguments (`Rates`). Each is the fastest of several pings, the payload ones interleaved. Then the
        null round trip once more, each ping from a new thread: a thread's first exchange costs more (its
        CPU and the candidate's are farther apart), and AlgoTune's evaluators make every timed call from a
        new thread (`run_with_timeout`'s one-thread pool).

        Called on a new process before anything of the candidate is imported into it, so the candidate
        has no say in it (the evaluator's clocks leave at most `allowance` of each call's waits out,
        see `_selftaught_clock`). A process that does not answer pings leaves nothing out."""
        _EXCHANGED.done = True  # this thread's calls are not first exchanges: it pings now
        null = self._fastest([self._ping(EMPTY_ARGS, []) for _ in range(NULL_CALLS)])
        if null is None:
            return
        self.null_wait, self.rates.null_sent, self.rates.null_received = null
        first = self._fastest([self._ping_from_new_thread() for _ in range(FIRST_CALLS)])
        self.first_null_wait = max(self.null_wait, first[0]) if first else self.null_wait
        array = wire.Bodies()
        array_args = b"[" + wire.dumps([numpy.zeros(PAYLOAD_ITEMS)], array.hook) + b",{}]"
        packed = wire.Bodies()
        packed_args = b"[" + wire.dumps([[0.5] * PAYLOAD_ITEMS], packed.hook) + b",{}]"
        rounds = [
            (
                self._ping(array_args, array.items),
                self._ping(packed_args, packed.items),
                self._ping(EMPTY_ARGS, [], echo=PAYLOAD_BYTES),
            )
            for _ in range(PAYLOAD_ROUNDS)
        ]
        sent, items, received = (self._fastest(kind) for kind in zip(*rounds, strict=True))
        if sent is None or items is None or received is None:
            return
        rates = self.rates
        rates.per_sent = max(0.0, sent[0] - null[0]) / max(1, sent[1] - null[1])
        rates.per_item = max(0.0, items[0] - sent[0]) / PAYLOAD_ITEMS
        rates.per_received = max(0.0, received[0] - null[0]) / max(1, received[2] - null[2])

    def _ping(self, args, bodies, echo=0):
        """(seconds, bytes sent, bytes received) of one ping, or None if it was not answered as one. The
        seconds are those of the exchange that this thread did not spend on its CPU: waiting for the
        candidate's process, or waiting for a core after waking it (what a call's credit counts)."""
        request = {"op": "ping", "args_wire": args, "args_bodies": bodies}
        if echo:
            request["echo"] = echo
        io = [0.0]
        wall, cpu = real_perf_counter(), time.thread_time()
        answer = self.call(request, PING_LIMIT, io=io)
        # As a call's credit counts it: the CPU of sending and reading is part of the wait.
        spent = (real_perf_counter() - wall) - (time.thread_time() - cpu - io[0])
        if "value_wire" not in answer:
            return None
        return max(0.0, spent), self._sent, self._received

    def _ping_from_new_thread(self):
        """A null ping made as the first exchange of a thread started for it."""
        box = []
        thread = threading.Thread(target=lambda: box.append(self._ping(EMPTY_ARGS, [])), daemon=True)
        thread.start()
        thread.join()
        return box[0] if box else None

    @staticmethod
    def _fastest(samples):
        if any(sample is None for sample in samples):
            return None
        return min(samples)

    def allowance(self, sent, received, items, first=False):
        """The most of one exchange's waits that is not the candidate's own time: the null round trip
        (as a new thread's first exchange costs it, when `first`), plus the calibrated cost of the bytes
        beyond the null's and of the packed numbers in the arguments. Answer bytes count up to twice the request's plus `RESULT_SLACK`: the answer's size
        is the candidate's choice, and the rate is the fastest seen, so no candidate can gain by
        inflating its answer past what an honest one of that size costs to send."""
        rates = self.rates
        extra_sent = max(0, sent - rates.null_sent)
        extra_received = max(0, min(received, 2 * sent + RESULT_SLACK) - rates.null_received)
        return (
            (self.first_null_wait if first else self.null_wait)
            + rates.per_sent * extra_sent
            + rates.per_received * extra_received
            + rates.per_item * max(0, items)
        )

    def close(self):
        if not self.dead:
            self.dead = True
            with contextlib.suppress(OSError):
                self.reader.close()  # owns the fd

    def call(self, request, timeout, waits=None, allowed=None, io=None):
        """Send one request and wait for its answer (an answer dict as the host's broker gives).

        One call at a time (the evaluator may call from several threads, e.g. a thread pool with a
        timeout): their messages must not interleave on the socket; the others wait their turn.
        `waits[0]` grows by the seconds spent waiting: for the turn, and for the candidate's process to
        take the request and to answer (the candidate's time, as the evaluator's clocks count it);
        `allowed[0]` by the exchange's `allowance` (what of those waits is the brokering's), counted
        from the bytes this side sent and received and `request["args_items"]`, the packed numbers the
        arguments hold (as this side encoded them); `io[0]` by the CPU time this thread spent sending
        the request and reading the answer off the socket.

        Why `io` apart: how the answer arrives is the candidate's process's choice. Written a byte at a
        time while it computes, each byte wakes this thread, whose CPU spent reading runs beside the
        candidate's work; a credit that counted it as the call's own CPU would erase that work from the
        clocks. Counted as waiting, it is left out only within the allowance."""
        waits = [0.0] if waits is None else waits
        first = _first_exchange()
        started = real_monotonic()
        with self._lock:
            waits[0] += real_monotonic() - started
            self._sent = self._received = 0
            self._answered = False
            self._io_cpu = 0.0
            try:
                answer = self._call(request, timeout, waits)
            finally:
                if io is not None:
                    io[0] += self._io_cpu
            if allowed is not None and self._answered:
                items = request.get("args_items", 0)
                allowance = self.allowance(
                    self._sent, self._received, items if type(items) is int else 0, first=first
                )
                allowed[0] += allowance
                self.allowed_total += allowance
            return answer

    def _call(self, request, timeout, waits):
        if self.dead:  # closed while this call waited its turn: its number may be another file's now
            return {
                "error": "the candidate's process ended before this call's turn",
                "etype": "RuntimeError",
            }
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
        fields = {
            key: value
            for key, value in request.items()
            if key not in ("args_wire", "args_bodies", "args_items")
        }
        if fields.get("op") == "describe":
            fields["module_id"] = next(self._module_ids)
        fields.update(seq=seq, limit=limit)
        bodies = [request["args_wire"], *request.get("args_bodies", [])] if "args_wire" in request else []
        parts = frames.pack_parts({"request": wire.encode(fields)}, bodies)
        self._until, self._waits = started + limit + GRACE, waits
        io_started = time.thread_time()
        try:
            self._check_quiet()
            frames.write_all(self.fd, parts, wait=lambda: self._ready(select.POLLOUT))
            self._sent = sum(len(part) for part in parts)
            header, bodies = self._receive()
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
        finally:
            self._io_cpu = time.thread_time() - io_started
        if header.get("seq") != seq:
            self.close()
            return {"error": "the candidate's process answered out of turn", "etype": "RuntimeError"}
        self._answered = True
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

    def _check_quiet(self):
        """Nothing may be waiting on the socket before a request is sent: an answer written ahead of its
        request (to look quick, its bytes counted as sent during the call) ends the process."""
        self._poller.register(self.fd, select.POLLIN)
        if self._poller.poll(0):
            try:
                early = os.read(self.fd, 1)
            except BlockingIOError:
                return
            if not early:
                raise EOFError("the candidate's process closed its end")
            raise wire.WireError("the candidate's process wrote before it was asked")

    def _ready(self, event):
        """Wait until the socket is ready for `event`, within the exchange's deadline."""
        _wait(self._poller, self.fd, event, self._until, self._waits)

    def _receive(self):
        """The answer: its header and bodies (bytearrays), read within the caps. Bytes beyond it (a
        second message written ahead) end the process, as bytes waiting before a request do."""
        received = self.reader.received
        try:
            header, bodies = frames.recv_message(self.reader, ANSWER_CAP)
        finally:
            self._received += self.reader.received - received
        if self.reader.pending:
            raise wire.WireError("the candidate's process wrote past its answer")
        return header, bodies


def _wait(poller, fd, event, until, waits):
    poller.register(fd, event)  # (re-registering changes the event)
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
