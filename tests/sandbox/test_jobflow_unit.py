"""The job flow with its collaborators as records, without a sandbox: what happens to a job when the
brood can or cannot fork a child for it, and how the remote-call window paces the brood's reading.

`sandbox/inside/` modules import each other as top-level modules (that is how the zygote runs them), so
the directory is put on `sys.path` for the import and taken off again.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import selftaught

INSIDE = str(Path(selftaught.__file__).parent / "sandbox" / "inside")
sys.path.insert(0, INSIDE)
try:
    import frames as inside_frames  # type: ignore[import-not-found]
    import jobflow  # type: ignore[import-not-found]
    from jobstate import Child, JobState  # type: ignore[import-not-found]
finally:
    sys.path.remove(INSIDE)


class Brood:
    """The brood as the job flow sees it: forks (or refuses), reaps, feeds, pauses reading; all recorded."""

    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.paused: list[bool] = []
        self.fed: list[bytes] = []
        self.reaped = 0

    def spawn(self, job: Any) -> str | None:
        if self.refuse is not None:
            return self.refuse
        job.child = Child(1, -1, -1, None, None, 0, "/nonexistent", inside_frames.FrameReader(1))
        return None

    def reap(self, job: Any) -> str:
        self.reaped += job.child is not None
        job.child = None
        return "killed"

    def pause_reading(self, kid: Any, paused: bool) -> None:
        self.paused.append(paused)

    def feed_child(self, job: Any, data: bytes) -> None:
        self.fed.append(data)

    def flush_child(self, kid: Any) -> None:
        pass


def flow(brood: Brood) -> tuple[Any, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    jobs: dict[int, Any] = {}
    return jobflow.JobFlow(jobs, brood, lambda header, bodies=(): sent.append(header), None, 0), sent


def test_a_refused_child_ends_the_job_with_the_brood_s_reason() -> None:
    job_flow, sent = flow(Brood(refuse="sandbox worker has too many children"))
    job_flow.start_job({"id": 7, "setup_timeout": 5}, [b"x"])
    assert sent == [
        {"op": "done", "id": 7, "stdout": "", "stderr": "", "error": "sandbox worker has too many children"}
    ]
    assert job_flow.jobs == {}


def test_a_fresh_child_is_in_setup_with_its_deadline_and_read_while_the_window_has_room() -> None:
    brood = Brood()
    job_flow, sent = flow(brood)
    before = time.monotonic()
    job_flow.start_job({"id": 3, "setup_timeout": 5}, [b"x", b"y"])
    job = job_flow.jobs[3]
    assert job.phase == "setup" and job.child is not None and sent == []
    assert before + 5 <= job.deadline <= time.monotonic() + 5
    assert brood.paused == [False]


def test_a_child_replacing_one_whose_calls_fill_the_window_starts_unread() -> None:
    """The remote-call window is the job's, across children: a fresh child of a job whose calls are
    still unanswered is not read until answers come back, then it is."""
    brood = Brood()
    job_flow, _ = flow(brood)
    job = JobState(4, {"id": 4, "setup_timeout": 5}, [b"x"])
    job.rpc_out = {req: 1 for req in range(jobflow.RPC_WINDOW_CALLS)}
    job_flow.jobs[4] = job
    job_flow.spawn(job)
    assert brood.paused == [True]
    job_flow.call_answered(job, 0)
    assert brood.paused == [True, False]
