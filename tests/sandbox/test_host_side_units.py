"""Host-side and zygote-side pieces of the sandbox that need no sandbox to test (fast suite).

Moved out of the end-to-end modules (test_hostile_boundary, test_redteam, test_isolation_private), which
are marked slow as a whole because their other tests run real bubblewrap jobs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from selftaught.sandbox import Job, uids
from selftaught.sandbox.inside import scratch
from selftaught.sandbox.job import Proxy
from selftaught.sandbox.jobrun import JobRun
from selftaught.sandbox.remote_calls import serve as serve_remote_call


def test_remote_calls_after_the_program_returned_are_refused() -> None:
    """A call still arriving once the last instance answered is refused with an error and an event."""
    calls: list[str] = []
    sent: list[dict[str, object]] = []

    class Zygote:
        def send(self, header: dict[str, object], bodies: list[bytes] = ()) -> None:  # type: ignore[assignment]
            sent.append(header)

    run = JobRun(Job(source="", entry="f", instances=[[1]]), {"utility": Proxy("utility", callable=True)})
    header = {"proxy": "utility", "method": "__call__", "req": 1}
    serve_remote_call(Zygote(), 1, header, [b'[["x"], {}]'], run, lambda *a: calls.append("called") or 0.5)  # type: ignore[arg-type]
    assert calls == ["called"] and "error" not in sent[-1]
    run.returned = True
    serve_remote_call(Zygote(), 1, header, [b'[["x"], {}]'], run, lambda *a: calls.append("called") or 0.5)  # type: ignore[arg-type]
    assert calls == ["called"], "served after the program returned"
    assert "returned" in str(sent[-1]["error"])
    assert [e.kind for e in run.events] == ["rpc-after-return"]


@pytest.mark.parametrize(
    "kind", ["job-timeout", "sandbox:worker-died", "protocol-violation", "iteration-fallback"]
)
def test_host_kinds_claimed_by_a_child_are_stored_as_claims(kind: str) -> None:
    from selftaught import events

    claimed = events.sandbox_event_kind(kind, "x", "sandbox")
    assert claimed.startswith(events.CLAIMED_PREFIX) and events.producer(claimed) == "sandbox"
    if kind != "iteration-fallback":  # a pool kind: the host's own report of it stays the fact
        assert events.producer(events.sandbox_event_kind(kind, "x", "zygote")) == "host"
    assert events.sandbox_event_kind("network", "connect", "sandbox") == "sandbox:network"


def test_the_scratch_walk_counts_what_os_walk_counts(tmp_path: Path) -> None:
    """`scratch.usage` (the zygote's per-child measure) against the stdlib's walk on a mixed tree."""
    for i in range(30):
        sub = tmp_path.joinpath(*[f"d{j}" for j in range(i % 7)])
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i}").write_bytes(b"x" * (i * 5000))
    (tmp_path / "link").symlink_to("/usr")  # counted as an entry, never followed
    expected = sum(len(dirs) + len(files) for _, dirs, files in os.walk(tmp_path))
    entries, used = scratch.usage(str(tmp_path), 10_000)
    assert entries == expected
    assert used >= sum(i * 5000 for i in range(30))
    assert scratch.usage(str(tmp_path), 10)[0] == 11  # stops one past the cap


def test_a_uid_block_is_exclusive_until_released(tmp_path: os.PathLike[str]) -> None:
    lock_dir = str(tmp_path)
    one = uids.acquire(lock_dir)
    two = uids.acquire(lock_dir)
    assert one.index != two.index
    one.release()
    three = uids.acquire(lock_dir)
    assert three.index == one.index  # freed by release (or by the holder's death)
    two.release()
    three.release()
