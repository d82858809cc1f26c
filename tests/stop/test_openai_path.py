"""STOP through the real openai SDK against our loopback OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest

import selftaught
from selftaught.testing.openai_server import Fault, OpenAIServer

pytestmark = pytest.mark.slow  # end to end: whole runs on the offline model in the real sandbox

SECRET = "sk-loopback-test-key-0123456789"


def test_self_improvement_runs_through_an_openai_compatible_endpoint(small_settings, monkeypatch) -> None:
    monkeypatch.setenv("SELFTAUGHT_TEST_KEY", SECRET)
    with OpenAIServer(api_key=SECRET) as server:
        server.enqueue_faults(Fault.rate_limit(retry_after=0.05), Fault.server_error(503))
        settings = small_settings.model_copy(
            update={
                "model": f"openai/test-model@{server.base_url}",
                "api_key_env": "SELFTAUGHT_TEST_KEY",
                "iterations": 1,
            }
        )
        [run] = selftaught.self_improve(settings)
        chat_requests = len(server.chat_requests)
    assert run.status == "completed"
    assert [it.t for it in run.iterations] == [0, 1]
    # Every budgeted call reached the server (plus the two injected failures that were retried).
    assert chat_requests >= sum(it.lm_calls for it in run.iterations) + 2
    assert run.iterations[0].meta_utility_val > 0
    for path in Path(run.path).rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_cost_cap_stops_the_run_cleanly_and_resume_continues_it(small_settings, monkeypatch) -> None:
    monkeypatch.setenv("SELFTAUGHT_TEST_KEY", SECRET)
    with OpenAIServer(models=("gpt-4o-mini",)) as server:
        # gpt-4o-mini is priced in the built-in table; a cap of a few calls' worth stops mid-run.
        settings = small_settings.model_copy(
            update={
                "model": f"openai/gpt-4o-mini@{server.base_url}",
                "api_key_env": "SELFTAUGHT_TEST_KEY",
                "iterations": 1,
                "max_cost": 0.003,
            }
        )
        [stopped] = selftaught.self_improve(settings)
        assert stopped.status == "stopped"
        assert "cost" in (stopped.stop_reason or "").lower()
        requests_when_stopped = len(server.chat_requests)
        [resumed] = selftaught.self_improve(
            settings, resume=stopped.run_id, resume_overrides={"max_cost": 10.0}
        )
        assert len(server.chat_requests) > requests_when_stopped
    assert resumed.status == "completed"
    assert [it.t for it in resumed.iterations] == [0, 1]
