"""The SQLite cache replays identical calls in order, resumes without spending twice, and never holds the key."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from selftaught.errors import UsageError
from selftaught.lm import CallRecord, ModelError, ReplayMiss, open_model
from selftaught.testing.openai_server import Fault, OpenAIServer

from .conftest import MESSAGE, SECRET_KEY, settings, spec


def _session(
    client_spec: str, key_env: str, tmp_path: Path, mode: str, records: list[CallRecord]
) -> list[list[str]]:
    """The same sequence of calls a run would make: repeated identical prompts and a batch."""
    with open_model(client_spec, settings(key_env, tmp_path, records, cache_mode=mode)) as client:
        lm = client.language_model(budget=4, purpose="t=0 test=0")
        return [
            lm.prompt("sys", MESSAGE),
            lm.prompt("sys", MESSAGE),
            lm.batch_prompt("sys", [MESSAGE, MESSAGE + "#b", MESSAGE]),
            lm.prompt("sys", MESSAGE, n_responses=2),
        ]


def test_replay_returns_identical_answers_in_order(
    server: OpenAIServer, key_env: str, tmp_path: Path
) -> None:
    recorded: list[CallRecord] = []
    first = _session(spec(server), key_env, tmp_path, "read-write", recorded)
    assert first[0] != first[1], "the k-th identical call must get a new answer, not the first one again"
    sent = len(server.chat_requests)
    replayed: list[CallRecord] = []
    second = _session(spec(server), key_env, tmp_path, "replay", replayed)
    assert second == first
    assert len(server.chat_requests) == sent, "replay contacted the endpoint"
    assert all(r.cached for r in replayed) and not any(r.cached for r in recorded)
    assert [r.response_shas for r in replayed] == [r.response_shas for r in recorded]
    # the batch sends (MESSAGE, n=2), the same request as the last prompt: that one is its 2nd occurrence
    assert [r.ordinal for r in recorded] == [0, 1, 0, 0, 1]


def test_resume_spends_nothing_twice_and_fetches_only_past_the_recorded(
    server: OpenAIServer, key_env: str, tmp_path: Path
) -> None:
    with open_model(spec(server), settings(key_env, tmp_path)) as client:
        first = client.language_model(budget=4).prompt("sys", MESSAGE)
    with open_model(spec(server), settings(key_env, tmp_path)) as client:
        lm = client.language_model(budget=4)
        again = lm.prompt("sys", MESSAGE)
        assert len(server.chat_requests) == 1
        later = lm.prompt("sys", MESSAGE)
    assert again == first and later != first
    assert len(server.chat_requests) == 2


def test_replay_miss_is_a_clear_usage_error(key_env: str, tmp_path: Path) -> None:
    _session("offline:1", key_env, tmp_path, "read-write", [])
    with open_model("offline:1", settings(key_env, tmp_path, cache_mode="replay")) as client:
        lm = client.language_model(budget=4, purpose="t=0 test=0")
        lm.prompt("sys", MESSAGE)
        lm.prompt("sys", MESSAGE)
        with pytest.raises(ReplayMiss, match=r"no recorded answer for call #3") as caught:
            lm.prompt("sys", MESSAGE)
    assert isinstance(caught.value, UsageError)


def test_replay_needs_a_cache_file(key_env: str) -> None:
    with pytest.raises(UsageError, match="replay mode needs a cache file"):
        settings(key_env, None, cache_mode="replay")


def test_offline_model_replays_from_cache_too(key_env: str, tmp_path: Path) -> None:
    first = _session("offline:5", key_env, tmp_path, "read-write", [])
    rows = (
        sqlite3.connect(tmp_path / "lm-cache.sqlite").execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    )
    assert rows == 5
    assert _session("offline:5", key_env, tmp_path, "replay", []) == first


def test_scopes_make_concurrent_replay_deterministic(key_env: str, tmp_path: Path) -> None:
    """Five improver runs with identical prompts, run in parallel, each get the same answers on replay."""

    def run(client_spec: str, mode: str) -> dict[int, list[str]]:
        with open_model(client_spec, settings(key_env, tmp_path, cache_mode=mode)) as client:

            def one(test: int) -> list[str]:
                lm = client.language_model(budget=3, purpose=f"t=1 test={test}")
                return [answer for _ in range(3) for answer in lm.batch_prompt("sys", [MESSAGE] * 2)]

            with ThreadPoolExecutor(max_workers=5) as pool:
                return dict(enumerate(pool.map(one, range(5))))

    recorded = run("offline:2", "read-write")
    assert len({tuple(v) for v in recorded.values()}) == 5, "distinct scopes must get distinct answers"
    assert run("offline:2", "replay") == recorded


def test_the_key_is_in_no_written_file_nor_record(server: OpenAIServer, key_env: str, tmp_path: Path) -> None:
    records: list[CallRecord] = []
    _session(spec(server), key_env, tmp_path, "read-write", records)
    with open_model(spec(server), settings(key_env, tmp_path)) as client:
        shown = repr(client) + repr(client.language_model()) + repr(client.settings) + repr(client._backend)
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any(path.name == "lm-cache.sqlite" for path in written)
    for path in written:
        assert SECRET_KEY.encode() not in path.read_bytes(), f"API key written to {path}"
    assert SECRET_KEY not in shown
    assert all(SECRET_KEY not in repr(record) for record in records)
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {SECRET_KEY}"


def test_a_failed_batch_keeps_the_answers_it_paid_for(key_env: str, tmp_path: Path) -> None:
    def echo_tail(body: dict, index: int) -> str:
        return "answer to " + body["messages"][-1]["content"][-2:]

    with OpenAIServer(reply=echo_tail) as server:
        cfg = settings(key_env, tmp_path, max_retries=0)
        with open_model(spec(server), cfg) as client:
            server.enqueue_faults(Fault.delay(0.0), Fault.server_error())  # first request fine, second fails
            with pytest.raises(ModelError):
                client.language_model(budget=1).batch_prompt("sys", [MESSAGE + "#a", MESSAGE + "#b"])
        assert len(server.chat_requests) == 3  # two requests, then the check request after the failure
        with open_model(spec(server), cfg) as client:
            answers = client.language_model(budget=1).batch_prompt("sys", [MESSAGE + "#a", MESSAGE + "#b"])
        assert sorted(answers) == ["answer to #a", "answer to #b"]
        assert len(server.chat_requests) == 4, "the answer already paid for must come from the cache"
