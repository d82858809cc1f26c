"""The host side of the candidate's jobs: what the evaluator's child sends and what the candidate's child
answers are untrusted, so both parsers are fuzzed (a recording executor stands in for the pool: it never
executes anything, it only answers with the outputs hypothesis draws)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from selftaught.sandbox.job import InstanceResult, Job, JobResult
from selftaught.tasks.openevolve_broker import MAX_CANDIDATE_JOBS, CandidateBroker, CandidateRefused

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10), st.binary(max_size=10)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


class Recording:
    """Executor double: records the jobs and answers each with a given result."""

    def __init__(self, result: JobResult) -> None:
        self.result = result
        self.jobs: list[Job] = []

    def run(self, job: Job, rpc: Any = None) -> JobResult:
        self.jobs.append(job)
        return self.result

    def close(self) -> None:
        pass


def broker(result: JobResult, seconds: float = 30.0) -> tuple[CandidateBroker, Recording]:
    executor = Recording(result)
    program = "def f():\n    return 1\n"
    return CandidateBroker(executor, program, {"data.txt": b"1"}, time.monotonic() + seconds), executor


OK = JobResult([InstanceResult(output={"value": 1})])


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["module", "run", "other"]), request=json_values, timeout=json_values)
@example(method="module", request={"op": "describe"}, timeout=10**400)
@example(method="run", request={"script": "", "argv": [1]}, timeout=float("nan"))
def test_any_request_is_refused_or_becomes_a_well_formed_job(method: str, request: Any, timeout: Any) -> None:
    handler, executor = broker(OK)
    try:
        handler("candidate", method, [request, timeout], {})
    except (CandidateRefused, PermissionError):
        assert not executor.jobs
        return
    (job,) = executor.jobs
    (sent,) = job.instances[0]
    assert sent["program"] == "def f():\n    return 1\n" and sent["files"]["data.txt"] == b"1"
    assert 0 < job.instance_timeout <= 30.0 and job.cpu_bound


@settings(max_examples=300, deadline=None)
@given(
    output=json_values,
    error=st.one_of(st.none(), st.sampled_from(["timeout", "killed: memory", "exception: x"])),
)
def test_any_candidate_answer_becomes_a_plain_reply(output: Any, error: str | None) -> None:
    result = JobResult([InstanceResult(output=output, error=error)], stdout="out", stderr="err")
    for method, request in (("module", {"op": "call", "name": "f"}), ("run", {"script": "print(1)"})):
        reply = broker(result)[0]("candidate", method, [request, 5.0], {})
        assert isinstance(reply, dict)
        if error == "timeout":
            assert reply["timeout"] is True
        elif method == "run":
            assert isinstance(reply["returncode"], int) and isinstance(reply["files"], dict)
            assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in reply["files"].items())
        else:
            assert ("error" in reply) or ("value" in reply) or ("names" in reply)


def test_requests_are_rebuilt_not_forwarded() -> None:
    handler, executor = broker(OK)
    request = {
        "op": "call",
        "name": "f",
        "args": [np.arange(3)],
        "kwargs": {},
        "program": "EVIL",
        "files": {"x": b"y"},
    }
    handler("candidate", "module", [request, 1.0], {})
    sent = executor.jobs[0].instances[0][0]
    assert sent["program"] != "EVIL" and "x" not in sent["files"]
    assert executor.jobs[0].instance_timeout == 1.0
    for bad in (
        {"op": "call", "name": "f; import os"},
        {"op": "exec"},
        {"op": "call", "name": "f", "args": "x"},
    ):
        try:
            handler("candidate", "module", [bad, 1.0], {})
        except CandidateRefused:
            continue
        raise AssertionError(f"accepted {bad}")


def test_limits_follow_the_evaluations_deadline_and_the_job_count() -> None:
    handler, executor = broker(OK, seconds=2.0)
    handler("candidate", "module", [{"op": "describe"}, 600.0], {})
    assert executor.jobs[-1].instance_timeout <= 2.0  # never past the evaluation's own limit
    for _ in range(MAX_CANDIDATE_JOBS - 1):
        handler("candidate", "module", [{"op": "describe"}, None], {})
    try:
        handler("candidate", "module", [{"op": "describe"}, None], {})
    except CandidateRefused as exc:
        assert str(MAX_CANDIDATE_JOBS) in str(exc)
    else:
        raise AssertionError("no cap on candidate jobs")
    late, executor = broker(OK, seconds=0.0)
    assert late("candidate", "module", [{"op": "describe"}, 1.0], {})["timeout"] is True and not executor.jobs


def test_handed_back_files_are_capped_by_the_host() -> None:
    many = {f"f{i}.txt": b"x" for i in range(5000)}
    result = JobResult([InstanceResult(output={"returncode": 0, "files": many})])
    reply = broker(result)[0]("candidate", "run", [{"script": "pass"}, 1.0], {})
    assert len(reply["files"]) == 1000 and b"not handed back" in reply["stderr"]
