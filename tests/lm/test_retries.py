"""Transient failures are retried (and counted once); permanent ones surface clearly; odd replies are safe."""

from __future__ import annotations

import time

import pytest

from selftaught.errors import UsageError
from selftaught.lm import CallRecord, ModelAuthError, ModelError, open_model
from selftaught.sandbox.inside.helpers import extract_code
from selftaught.testing.openai_server import NO_CODE_REPLY, Fault, OpenAIServer

from .conftest import MESSAGE, SECRET_KEY, settings, spec


@pytest.mark.parametrize(
    "fault",
    [
        Fault.rate_limit(retry_after=None),
        Fault.server_error(503),
        Fault.reset(),
        Fault.truncated_json(),
        Fault.hang(),
    ],
    ids=["429", "503", "reset", "truncated-json", "timeout"],
)
def test_transient_failures_are_retried_and_count_once(
    server: OpenAIServer, key_env: str, fault: Fault
) -> None:
    records: list[CallRecord] = []
    server.enqueue_faults(fault, fault)
    # The client's timeout decides only the hanging replies (30 s): an answered request on a loaded
    # machine must never come near it (at 0.3 s one did, so a third attempt timed out as well).
    with open_model(spec(server), settings(key_env, records=records, timeout=1.5)) as client:
        lm = client.language_model(budget=1)
        answers = lm.prompt("sys", MESSAGE, n_responses=2)
    assert len(answers) == 2 and all(extract_code(answer) for answer in answers)
    assert lm.calls_used == 1
    assert len(server.chat_requests) == 3
    assert len(records) == 1 and records[0].error is None


def test_retry_after_is_respected(server: OpenAIServer, key_env: str) -> None:
    server.enqueue_faults(Fault.rate_limit(retry_after=0.4))
    with open_model(spec(server), settings(key_env)) as client:
        started = time.perf_counter()
        client.language_model(budget=1).prompt("sys", MESSAGE)
        elapsed = time.perf_counter() - started
    assert elapsed >= 0.4
    first, second = server.chat_requests
    assert second.received_at - first.received_at >= 0.39


def test_retries_exhausted_raise_model_error(server: OpenAIServer, key_env: str) -> None:
    server.enqueue_faults(*[Fault.server_error()] * 3)
    with open_model(spec(server), settings(key_env, max_retries=2)) as client:
        lm = client.language_model(budget=2)
        with pytest.raises(ModelError, match="gave up after 3 attempts: HTTP 500") as caught:
            lm.prompt("sys", MESSAGE)
        assert caught.value.retryable and caught.value.status == 500
        assert lm.calls_used == 1  # a failed call is not free
        assert client.stats().errors == 1


def test_non_retryable_status_surfaces_at_once(server: OpenAIServer, key_env: str) -> None:
    server.enqueue_faults(Fault.error(400, "max_tokens is too large for this model"))
    with (
        open_model(spec(server), settings(key_env)) as client,
        pytest.raises(ModelError, match="HTTP 400: max_tokens is too large") as caught,
    ):
        client.language_model(budget=1).prompt("sys", MESSAGE)
    assert not isinstance(caught.value, UsageError)
    assert len(server.chat_requests) == 1


def test_rejected_key_is_a_usage_error_naming_the_variable_without_the_key(key_env: str) -> None:
    with (
        OpenAIServer(api_key="sk-some-other-key") as server,
        open_model(spec(server), settings(key_env)) as client,
        pytest.raises(ModelAuthError) as caught,
    ):
        client.language_model(budget=1).prompt("sys", MESSAGE)
    assert isinstance(caught.value, UsageError)
    assert key_env in str(caught.value) and "401" in str(caught.value)
    assert SECRET_KEY not in str(caught.value)
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {SECRET_KEY}"


def test_empty_refused_truncated_and_codeless_replies_do_not_crash(
    server: OpenAIServer, key_env: str
) -> None:
    records: list[CallRecord] = []
    server.enqueue_faults(Fault.empty_choices(), Fault.refusal(), Fault.truncated_reply(), Fault.no_code())
    with open_model(spec(server), settings(key_env, records=records)) as client:
        lm = client.language_model(budget=4)
        empty = lm.prompt("sys", MESSAGE, n_responses=2)
        refused = lm.prompt("sys", MESSAGE)
        truncated = lm.prompt("sys", MESSAGE)
        codeless = lm.prompt("sys", MESSAGE)
    assert empty == ["", ""] and refused == [""]
    assert truncated[0] and "```" in truncated[0]
    assert codeless == [NO_CODE_REPLY]
    assert [r.finish_reasons for r in records] == [("empty", "empty"), ("refusal",), ("length",), ("stop",)]


def test_endpoint_parameter_rejections_are_adapted_to(server: OpenAIServer, key_env: str) -> None:
    server.enqueue_faults(
        Fault.error(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        ),
        Fault.error(400, "Unsupported value: 'temperature' does not support 0.7 with this model."),
    )
    with open_model(spec(server), settings(key_env)) as client:
        lm = client.language_model(budget=2)
        assert extract_code(lm.prompt("sys", MESSAGE)[0])
        lm.prompt("sys", MESSAGE)
    bodies = [r.body for r in server.chat_requests]
    assert "max_tokens" in bodies[0] and "max_completion_tokens" in bodies[1] and "temperature" in bodies[1]
    assert "temperature" not in bodies[2] and bodies[3]["max_completion_tokens"] == 1024
    assert lm.calls_used == 2
