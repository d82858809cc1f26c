"""Endpoint failures are told apart in process, on the real loopback server (no sandbox, no CLI): the
preflight's reply and refusals, retries against a dead endpoint, configuration errors, and the per-call
errors a program can cause. The same failures through the CLI and a whole run are in
test_fail_loudly.py (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.errors import UsageError
from selftaught.lm import EndpointError, ModelAuthError, ModelError, open_model
from selftaught.lm.preflight import PreflightConfigError, needs_preflight, preflight
from selftaught.testing.openai_server import Fault, OpenAIServer

from .conftest import MESSAGE, SECRET_KEY, settings, spec

DEAD = "openai/x@http://127.0.0.1:9/v1"


def test_preflight_reports_latency_and_reply_and_is_counted_nowhere(
    server: OpenAIServer, key_env: str, tmp_path: Path
) -> None:
    server.enqueue_replies("ready")
    records: list = []
    with open_model(spec(server), settings(key_env, tmp_path, records)) as client:
        result = preflight(client)
        assert result.reply == "ready" and result.warning is None and result.latency_s > 0
        assert client.stats().requests == 0 and records == []
        lm = client.language_model(budget=1)
        lm.prompt("sys", MESSAGE)
        assert lm.calls_used == 1 and records[0].ordinal == 0 and not records[0].cached
    body = server.chat_requests[0].body
    assert body["max_tokens"] <= 64 and body["n"] == 1


def test_empty_reply_from_a_reasoning_model_passes_with_a_warning(server: OpenAIServer, key_env: str) -> None:
    server.enqueue_replies("")
    with open_model(spec(server), settings(key_env)) as client:
        result = preflight(client)
    assert result.reply == "" and result.warning and "empty reply" in result.warning


def test_replay_and_offline_skip_the_preflight(key_env: str, tmp_path: Path) -> None:
    with open_model(DEAD, settings(key_env, tmp_path, cache_mode="replay")) as client:
        assert not needs_preflight(client)
    with open_model("offline:1", settings(key_env)) as client:
        assert not needs_preflight(client)


def test_dead_endpoint_fails_after_a_short_retry(key_env: str) -> None:
    with (
        open_model(DEAD, settings(key_env, max_retries=6, backoff_base=5.0)) as client,
        pytest.raises(EndpointError) as caught,
    ):
        preflight(client)
    # A refused connection gets a short retry (3 attempts, 0.5 s then 1 s apart), not the 7 attempts
    # and 5 s-doubling backoff the settings allow an answering server.
    assert "gave up after 3 attempts" in str(caught.value)
    assert "127.0.0.1:9" in str(caught.value) and "cannot connect" in str(caught.value)
    assert not isinstance(caught.value, UsageError)


@pytest.mark.parametrize(
    ("server_kwargs", "model", "status"),
    [({"api_key": "other-key"}, "test-model", 401), ({"check_model": True}, "no-such-model", 404)],
    ids=["bad-key", "unknown-model"],
)
def test_key_and_model_errors_are_configuration_errors(
    key_env: str, server_kwargs: dict, model: str, status: int
) -> None:
    with (
        OpenAIServer(**server_kwargs) as server,
        open_model(spec(server, model), settings(key_env)) as client,
        pytest.raises(ModelAuthError) as caught,
    ):
        preflight(client)
    assert caught.value.status == status and isinstance(caught.value, UsageError | EndpointError)
    assert SECRET_KEY not in str(caught.value)


def test_5xx_after_the_retries_is_an_endpoint_failure_and_later_calls_fail_at_once(
    server: OpenAIServer, key_env: str
) -> None:
    server.enqueue_faults(*[Fault.server_error(502)] * 6)  # the call's 3 attempts, then the check's 3
    with open_model(spec(server), settings(key_env, max_retries=2)) as client:
        lm = client.language_model(budget=2)
        with pytest.raises(EndpointError):
            lm.prompt("sys", MESSAGE)
        seen = len(server.chat_requests)
        with pytest.raises(EndpointError):
            lm.prompt("sys", MESSAGE + "another")
        assert len(server.chat_requests) == seen, "no request after the endpoint failed"


@pytest.mark.parametrize(
    "fault", [Fault.error(400, "maximum context length exceeded"), Fault.error(413, "big")]
)
def test_request_errors_a_program_can_cause_stay_per_call(
    server: OpenAIServer, key_env: str, fault: Fault
) -> None:
    server.enqueue_faults(fault)
    with open_model(spec(server), settings(key_env)) as client:
        lm = client.language_model(budget=2)
        with pytest.raises(ModelError) as caught:
            lm.prompt("sys", MESSAGE)
        assert not isinstance(caught.value, EndpointError)
        assert lm.prompt("sys", MESSAGE), "the client goes on after a per-call error"
        assert client.endpoint_failure is None


def test_other_4xx_at_preflight_is_a_configuration_error(server: OpenAIServer, key_env: str) -> None:
    server.enqueue_faults(Fault.error(422, "unsupported parameter"))
    with open_model(spec(server), settings(key_env)) as client, pytest.raises(PreflightConfigError):
        preflight(client)
