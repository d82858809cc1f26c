"""Remote calls from a sandboxed child: admitted against the job's budgets, checked, answered.

A child calls the host through a `Proxy` (`utility(program)`, `language_model.prompt(...)`). Such a call
may block for minutes and may itself start jobs (the evaluations an improver asks for), so it is served
in a thread of its own, with the job it came from recorded (`calling_job`) so those nested jobs can run
beside it. Everything the call carries is the child's and is hostile: its size is counted before it is
decoded, its shape checked after, and only the methods the proxy declares are ever called.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from dataclasses import dataclass
from typing import Any

from selftaught.sandbox.executor import RpcHandler, answering_for
from selftaught.sandbox.fairness import owned_by
from selftaught.sandbox.held import held_size
from selftaught.sandbox.inside import wire
from selftaught.sandbox.jobrun import MAX_RPC_BYTES_IN_FLIGHT, MAX_RPC_IN_FLIGHT, JobRun
from selftaught.sandbox.worker import ZygoteDied, ZygoteProcess


@dataclass(frozen=True)
class CallingJob:
    """The job whose remote call the current thread is serving (see `Job.peer_of`)."""

    pool: object  # the pool running it, compared by identity: only that pool can seat a job beside it
    job_id: int


_CALLING: contextvars.ContextVar[CallingJob | None] = contextvars.ContextVar("calling_job", default=None)


def calling_job() -> CallingJob | None:
    """The job whose remote call this thread serves, or None outside one (a job started with
    `Job(peer_of=calling_job())` runs beside it, with a socket between the two)."""
    return _CALLING.get()


def dispatch(
    zygote: ZygoteProcess,
    calling: CallingJob,
    header: dict[str, Any],
    bodies: list[bytes],
    run: JobRun,
    rpc: RpcHandler | None,
) -> None:
    """Answer in a thread (calls may block for minutes), at most MAX_RPC_IN_FLIGHT per job at once.

    A handler marked `inline = True` answers at once (host-driven tasks: one short step of a
    simulation per call) and is served right here, without a thread per call.
    """
    job_id = calling.job_id
    size = sum(len(body) for body in bodies)
    if getattr(rpc, "inline", False):
        # Served one at a time in this thread: the zygote's window bounds what waits behind it.
        serve(zygote, job_id, header, bodies, run, rpc, size)
        return
    with run.events_lock:
        admitted = run.rpc_in_flight < MAX_RPC_IN_FLIGHT and run.rpc_bytes.reserve(size)
        if admitted:
            run.rpc_in_flight += 1
    if not admitted:
        run.add_event(
            "rpc-flood",
            f"more than {MAX_RPC_IN_FLIGHT} remote calls or {MAX_RPC_BYTES_IN_FLIGHT >> 20} MiB in flight; refused",
        )
        refusal = {"op": "rpc_result", "id": job_id, "req": header.get("req")}
        with contextlib.suppress(ZygoteDied):
            zygote.send(refusal | {"error": "too many concurrent remote calls"})
        return

    def threaded() -> None:
        held = size
        token = _CALLING.set(calling)
        try:
            # Jobs this call submits (e.g. the evaluations an improver asks for) are this job's
            # for the CPU slots' fair shares.
            with owned_by(f"job {job_id}"):
                held = serve(zygote, job_id, header, bodies, run, rpc, size)
        finally:
            _CALLING.reset(token)
            with run.events_lock:
                run.rpc_in_flight -= 1
            run.rpc_bytes.release(held)

    threading.Thread(target=threaded, name="sandbox-rpc", daemon=True).start()


def serve(
    zygote: ZygoteProcess,
    job_id: int,
    header: dict[str, Any],
    bodies: list[bytes],
    run: JobRun,
    rpc: RpcHandler | None,
    size: int = 0,
) -> int:
    """Answer one remote call from the child (in its own thread: calls may block for minutes).

    Returns the bytes the call held in the job's remote-call budget: `size` (its encoded arguments,
    reserved by the caller for threaded calls) replaced by the decoded arguments' size while served.
    """
    inline = getattr(rpc, "inline", False)
    reply: dict[str, Any] = {"op": "rpc_result", "id": job_id, "req": header.get("req")}
    payload: list[bytes] = []
    call, held, refusal = _decoded_call(run, bodies, size, inline)
    if refusal is not None:
        reply |= refusal
    else:
        answer, payload = _answer(header, call, run, rpc)
        reply |= answer
    if inline:
        run.rpc_bytes.release(held)  # served: nothing of it is held any more
        held = 0
    with contextlib.suppress(ZygoteDied):
        zygote.send(reply, payload)
    return held


def _decoded_call(
    run: JobRun, bodies: list[bytes], size: int, inline: bool
) -> tuple[Any, int, dict[str, str] | None]:
    """The call's `[args, kwargs]`, decoded within the job's budget for calls in flight; the bytes it
    holds there now; or, instead of the call, the error that refuses it."""
    held = 0 if inline else size
    try:
        with run.decoding:
            call = wire.loads(bodies[0])
            bodies.clear()  # the encoded copy is not held while the call is served
            decoded = held_size(call)
            fits = run.rpc_bytes.reserve(decoded) if inline else run.rpc_bytes.exchange(size, decoded)
            held = decoded if fits else 0
        if not fits:
            del call
            raise wire.WireError(
                f"the call's arguments take {decoded} bytes decoded: over the job's "
                f"{MAX_RPC_BYTES_IN_FLIGHT >> 20} MiB for calls in flight"
            )
        if not (
            isinstance(call, list)
            and len(call) == 2
            and isinstance(call[0], list)
            and isinstance(call[1], dict)
        ):
            raise wire.WireError("malformed remote call")
    except Exception as exc:
        return None, held, {"error": str(exc), "etype": type(exc).__name__}
    return call, held, None


def _answer(
    header: dict[str, Any], call: list[Any], run: JobRun, rpc: RpcHandler | None
) -> tuple[dict[str, str], list[bytes]]:
    """The handler's answer to a well-formed call (reply fields, payload), if the proxy allows it."""
    name, method = str(header.get("proxy")), str(header.get("method"))
    proxy = run.proxies.get(name)
    if run.returned:
        run.add_event("rpc-after-return", f"{name}.{method} called after the program returned; refused")
        return {"error": "the program has returned: remote calls are closed"}, []
    allowed = proxy is not None and (
        method in proxy.methods
        or (method == "__call__" and proxy.callable)
        or (method == "__getattr__" and call[0] in ([live] for live in proxy.live))
    )
    if not allowed:
        run.add_event("proxy-unknown-method", f"{name}.{method}")
        return {"error": f"no such method: {name}.{method}"}, []
    if rpc is None:
        return {"error": "no remote-call handler for this job"}, []
    try:
        instance = header.get("i")
        with answering_for(instance if type(instance) is int else None):
            value = rpc(name, method, call[0], call[1])
        return {}, [wire.dumps(value)]
    except Exception as exc:
        return {"error": str(exc), "etype": type(exc).__name__}, []
