"""The host side of the candidate's processes: what the evaluator's child sends and what the candidate's
child answers are untrusted, so both parsers are fuzzed. Executor doubles stand in for the pool: they
never execute anything; one answers script jobs with a drawn result, the other plays a candidate session
(asks for requests through the session proxy like the real child and answers with drawn outputs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from property_runs import check_property, quick_and_broad
from selftaught.sandbox.job import InstanceResult, Job, JobResult
from selftaught.tasks import openevolve_session
from selftaught.tasks.openevolve_broker import MAX_CANDIDATE_JOBS, CandidateBroker, CandidateRefused

PROGRAM = "def f():\n    return 1\n"
SESSION_KEYS = {"op", "module", "rng", "module_id", "name", "args_wire", "handle", "session", "seq", "limit"}
NO_ARGS = b"[[],{}]"

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), st.binary(max_size=10)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


class Double:
    """Executor double: script jobs get `result`; a session job answers each request with `respond`."""

    def __init__(self, result: JobResult, respond: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.result = result
        self.respond = respond or (lambda request: {"value_wire": b"1", "seq": request["seq"]})
        self.jobs: list[Job] = []
        self.requests: list[dict[str, Any]] = []

    def run(self, job: Job, rpc: Any = None, stop: Any = None) -> JobResult:
        self.jobs.append(job)
        if job.entry != "serve_session":
            return self.result
        answer = None
        while True:
            request = rpc("session", "next", [answer], {})
            if request is None:
                return JobResult([InstanceResult(output=None)])
            self.requests.append(request)
            answer = self.respond(request)

    def close(self) -> None:
        pass


def broker(double: Double, seconds: float = 30.0) -> CandidateBroker:
    return CandidateBroker(double, PROGRAM, {"data.txt": b"1"}, time.monotonic() + seconds)


OK = JobResult([InstanceResult(output={"returncode": 0, "files": {}})])


@pytest.fixture(autouse=True)
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real child here to be killed by its timer: do not wait the grace seconds for one."""
    monkeypatch.setattr(openevolve_session, "GRACE", 0.01)


@settings(max_examples=200, deadline=None)
@given(method=st.sampled_from(["module", "run", "other"]), request=json_values, timeout=json_values)
@example(method="module", request={"op": "describe"}, timeout=10**400)
@example(
    method="module", request={"op": "call", "name": "f", "module_id": 0, "args_wire": NO_ARGS}, timeout=1.0
)
@example(
    method="module",
    request={
        "op": "method",
        "name": "solve",
        "module_id": 0,
        "handle": 7,
        "session": 1,
        "args_wire": NO_ARGS,
    },
    timeout=1.0,
)
@example(method="run", request={"script": "", "argv": [1]}, timeout=float("nan"))
def test_any_request_is_refused_or_becomes_a_well_formed_one(method: str, request: Any, timeout: Any) -> None:
    double = Double(OK)
    handler = broker(double)
    try:
        handler("candidate", method, [request, timeout], {})
    except (CandidateRefused, PermissionError):
        assert not double.requests and all(job.entry == "serve_session" for job in double.jobs)
        return
    finally:
        handler.close()
    if method == "module":
        (sent,) = double.requests
        assert set(sent) <= SESSION_KEYS and 0 < sent["limit"] <= 30.0
        (base, _proxy) = double.jobs[0].instances[0]
        assert base == {"program": PROGRAM, "files": {"data.txt": b"1"}}
    else:
        (job,) = double.jobs
        (sent,) = job.instances[0]
        assert sent["program"] == PROGRAM and sent["files"]["data.txt"] == b"1"
        assert 0 < job.instance_timeout <= 30.0 and not job.cpu_bound  # under its evaluation's CPU slot


@quick_and_broad(15, 200)  # a broad search: many large examples
def test_any_candidate_answer_becomes_a_plain_reply(examples: int) -> None:
    @check_property(
        examples,
        output=json_values,
        echo=st.booleans(),
        error=st.sampled_from([None, "timeout", "killed: memory"]),
    )
    def becomes_a_plain_reply(output: Any, echo: bool, error: str | None) -> None:
        def respond(request: dict[str, Any]) -> Any:
            return {**output, "seq": request["seq"]} if echo and isinstance(output, dict) else output

        result = JobResult([InstanceResult(output=output, error=error)], stdout="out", stderr="err")
        handler = broker(Double(result, respond))
        try:
            call = {"op": "call", "name": "f", "module_id": 0, "args_wire": NO_ARGS}
            answered = handler("candidate", "module", [call, 0.05], {})
            assert isinstance(answered, dict)
            assert {"error", "value_wire", "names", "callable", "timeout"} & set(answered)
            assert set(answered) <= {
                "error",
                "message",
                "etype",
                "traceback",
                "value_wire",
                "callable",
                "names",
                "timeout",
                "stdout",
                "stderr",
                "session",
            }
            assert not isinstance(answered.get("value_wire"), (str, int, float, dict, list))
            ran = handler("candidate", "run", [{"script": "print(1)"}, 5.0], {})
            if error == "timeout":
                assert ran["timeout"] is True
            else:
                assert isinstance(ran["returncode"], int) and isinstance(ran["files"], dict)
                assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in ran["files"].items())
        finally:
            handler.close()


def test_forged_or_stale_answers_are_ignored_and_the_call_times_out() -> None:
    handler = broker(Double(OK, lambda request: {"value_wire": b'"forged"', "seq": request["seq"] + 1}))
    call = {"op": "call", "name": "f", "module_id": 0, "args_wire": NO_ARGS}
    answered = handler("candidate", "module", [call, 0.3], {})
    assert answered["timeout"] is True  # neither answer was taken; the call ran to its 0.3 s limit
    handler.close()


def test_requests_are_rebuilt_not_forwarded() -> None:
    double = Double(OK)
    handler = broker(double)
    request = {
        "op": "call",
        "name": "f",
        "module_id": 3,
        "args_wire": b"[[1],{}]",
        "args": [np.arange(3)],
        "program": "EVIL",
    }
    assert handler("candidate", "module", [request, 1.0], {})["value_wire"] == b"1"
    (sent,) = double.requests
    assert "program" not in sent and "args" not in sent and sent["module_id"] == 3 and sent["limit"] == 1.0
    assert sent["args_wire"] == b"[[1],{}]"  # passed on unread: the candidate's side decodes it
    described = handler("candidate", "module", [{"op": "describe", "module_id": 99}, 1.0], {})
    assert described["module_id"] == double.requests[-1]["module_id"] == 0  # ids are the host's
    for bad in (
        {"op": "call", "name": "f; import os", "module_id": 0},
        {"op": "exec"},
        {"op": "call", "name": "f", "module_id": 0, "args_wire": "x"},
        {"op": "call", "name": "f", "module_id": 0},
        {"op": "call", "name": "f", "module_id": "0", "args_wire": NO_ARGS},
        {"op": "call", "name": "__class__", "module_id": 0, "args_wire": NO_ARGS},
        {
            "op": "method",
            "name": "__reduce__",
            "module_id": 0,
            "handle": 1,
            "session": 1,
            "args_wire": NO_ARGS,
        },
        {"op": "method", "name": "solve", "module_id": 0, "handle": -1, "session": 1, "args_wire": NO_ARGS},
        {
            "op": "method",
            "name": "solve",
            "module_id": 0,
            "handle": 1 << 63,
            "session": 1,
            "args_wire": NO_ARGS,
        },
        {"op": "getattr", "name": "x", "module_id": 0, "handle": "1", "session": 1},
        {"op": "getattr", "name": "x", "module_id": 0, "handle": 1},
    ):
        with pytest.raises(CandidateRefused):
            handler("candidate", "module", [bad, 1.0], {})
    handler.close()
    assert len([job for job in double.jobs if job.entry == "serve_session"]) == 1  # one session served all


def test_limits_follow_the_evaluations_deadline_and_the_job_count() -> None:
    double = Double(OK)
    handler = broker(double, seconds=2.0)
    handler("candidate", "module", [{"op": "describe"}, 600.0], {})
    assert double.requests[-1]["limit"] <= 2.0  # never past the evaluation's own limit
    for _ in range(MAX_CANDIDATE_JOBS - 1):
        handler("candidate", "run", [{"script": "pass"}, None], {})
    with pytest.raises(CandidateRefused, match=str(MAX_CANDIDATE_JOBS)):
        handler("candidate", "run", [{"script": "pass"}, None], {})
    handler.close()
    late = broker(Double(OK), seconds=0.0)
    assert late("candidate", "module", [{"op": "describe"}, 1.0], {})["timeout"] is True


def test_handed_back_files_are_capped_by_the_host() -> None:
    many = {f"f{i}.txt": b"x" for i in range(5000)}
    result = JobResult([InstanceResult(output={"returncode": 0, "files": many})])
    reply = broker(Double(result))("candidate", "run", [{"script": "pass"}, 1.0], {})
    assert len(reply["files"]) == 1000 and b"not handed back" in reply["stderr"]


def test_a_session_keeps_only_the_awaited_answer_and_one_waiting_next() -> None:
    """A candidate's own threads calling `session.next` cannot queue payloads or hold host threads."""
    import threading

    from selftaught.tasks.openevolve_session import CandidateSession

    rpcs: list[Any] = []
    started = threading.Event()

    class Idle:
        workers = 1

        def run(self, job: Job, rpc: Any = None, stop: Any = None) -> JobResult:
            rpcs.append(rpc)
            started.set()
            time.sleep(1.0)
            return JobResult([InstanceResult(output=None)])

    session = CandidateSession(Idle(), "", {}, time.monotonic() + 10, "t")
    assert started.wait(5)
    rpc = rpcs[0]
    waiter = threading.Thread(target=rpc, args=("session", "next", [None], {}))
    waiter.start()
    time.sleep(0.1)
    forged = {"seq": 1, "value": "x" * 1000}
    assert rpc("session", "next", [forged], {}) is None  # a second waiting next(): told to stop at once
    assert session._replies.qsize() == 0  # nothing was awaited, so the forged answer was dropped
    session.close()
    waiter.join(2)
    assert not waiter.is_alive()  # the waiting next() ends with the session
