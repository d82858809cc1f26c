"""Whose failure a failed call is: the endpoint's only when it also fails the check request asked
right after; a failure only some prompts cause stays that call's error, so no prompt fails a run."""

from __future__ import annotations

from typing import Any

import pytest

from selftaught.lm import EndpointError, ModelError, open_model
from selftaught.lm.probe import CHECK_MESSAGE
from selftaught.testing.openai_server import Fault, OpenAIServer

from .conftest import MESSAGE, settings, spec

POISON = "POISON-PROMPT"


def _user_text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if m.get("role") == "user")


def _checks(server: OpenAIServer) -> int:
    return sum(CHECK_MESSAGE in _user_text(r.body) for r in server.chat_requests)


@pytest.mark.parametrize(
    "fault",
    [Fault.reset(), Fault.truncated_json(), Fault.rate_limit(retry_after=0), Fault.server_error(500)],
    ids=["dropped-connection", "malformed-json", "429-never-clears", "500"],
)
def test_a_failure_only_certain_prompts_cause_stays_that_calls_error(key_env: str, fault: Fault) -> None:
    def rule(body: dict[str, Any], _index: int) -> Fault | None:
        return fault if POISON in _user_text(body) else None

    with OpenAIServer(fault_rule=rule) as server:
        with open_model(spec(server), settings(key_env, max_retries=2)) as client:
            lm = client.language_model(budget=3)
            with pytest.raises(ModelError) as caught:
                lm.prompt("sys", MESSAGE + POISON)
            assert not isinstance(caught.value, EndpointError)
            assert "this request's own failure" in str(caught.value)
            assert client.endpoint_failure is None
            assert lm.prompt("sys", MESSAGE), "the client goes on after the poisoned prompt"
        assert _checks(server) == 1


def test_an_endpoint_that_fails_the_check_too_is_the_endpoints_failure(key_env: str) -> None:
    """Malformed JSON for every request from the second on: the call and the check fail alike."""

    def rule(_body: dict[str, Any], index: int) -> Fault | None:
        return Fault.truncated_json() if index >= 1 else None

    with (
        OpenAIServer(fault_rule=rule) as server,
        open_model(spec(server), settings(key_env, max_retries=1)) as client,
    ):
        lm = client.language_model(budget=3)
        assert lm.prompt("sys", MESSAGE)
        with pytest.raises(EndpointError) as caught:
            lm.prompt("sys", MESSAGE + "second")
        assert "malformed reply" in str(caught.value) and "check request" in str(caught.value)
        assert client.endpoint_failure is caught.value
        seen = len(server.chat_requests)
        with pytest.raises(EndpointError):
            lm.prompt("sys", MESSAGE + "third")
        assert len(server.chat_requests) == seen, "no request after the endpoint failed"


def test_a_burst_of_failed_calls_costs_one_check(key_env: str) -> None:
    def rule(body: dict[str, Any], _index: int) -> Fault | None:
        return Fault.reset() if POISON in _user_text(body) else None

    with OpenAIServer(fault_rule=rule) as server:
        with open_model(spec(server), settings(key_env, max_retries=0)) as client:
            lm = client.language_model(budget=2, max_responses_per_call=6)
            with pytest.raises(ModelError) as caught:
                lm.batch_prompt("sys", [f"{MESSAGE}{POISON}{i}" for i in range(5)] + [MESSAGE])
            assert not isinstance(caught.value, EndpointError)
        assert _checks(server) == 1
