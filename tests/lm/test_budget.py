"""Budgets are exact under concurrency; batches group identical messages and run distinct ones at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from selftaught.errors import BudgetExceeded
from selftaught.lm import BUDGET_MESSAGE, CallRecord, open_model
from selftaught.sandbox.inside.helpers import extract_code
from selftaught.testing.openai_server import OpenAIServer

from .conftest import MESSAGE, settings, spec


def test_budget_is_exact_under_concurrency(server: OpenAIServer, key_env: str) -> None:
    with open_model(spec(server), settings(key_env)) as client:
        lm = client.language_model(budget=5, max_responses_per_call=6)
        outcomes: list[str] = []
        lock = threading.Lock()

        def call(i: int) -> None:
            try:
                lm.prompt("sys", f"{MESSAGE}\n# caller {i}")
                result = "ok"
            except BudgetExceeded as exc:
                result = str(exc)
            with lock:
                outcomes.append(result)

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(call, range(32)))
    assert outcomes.count("ok") == 5
    assert outcomes.count(BUDGET_MESSAGE) == 27
    assert lm.calls_used == 5
    assert len(server.chat_requests) == 5


def test_each_language_model_has_its_own_budget(key_env: str) -> None:
    with open_model("offline:3") as client:
        first = client.language_model(budget=1)
        second = client.language_model(budget=1)
        first.prompt("sys", MESSAGE)
        with pytest.raises(BudgetExceeded, match=BUDGET_MESSAGE):
            first.prompt("sys", MESSAGE)
        assert len(second.prompt("sys", MESSAGE)) == 1


def test_too_many_responses_is_a_clear_error_and_costs_nothing(key_env: str) -> None:
    with open_model("offline") as client:
        lm = client.language_model(budget=2, max_responses_per_call=6)
        with pytest.raises(ValueError, match="max_responses_per_call=6"):
            lm.prompt("sys", MESSAGE, n_responses=7)
        with pytest.raises(ValueError, match="at most 6"):
            lm.batch_prompt("sys", [MESSAGE] * 7)
        assert lm.calls_used == 0
        assert lm.batch_prompt("sys", []) == []
        assert lm.calls_used == 0


def test_identical_messages_become_one_request_with_n(
    server: OpenAIServer, key_env: str, tmp_path: Path
) -> None:
    records: list[CallRecord] = []
    with open_model(spec(server), settings(key_env, records=records)) as client:
        lm = client.language_model(budget=4)
        answers = lm.batch_prompt("sys", [MESSAGE] * 6)
    assert len(answers) == 6 and len(set(answers)) > 1
    assert [r.body["n"] for r in server.chat_requests] == [6]
    assert lm.calls_used == 1
    assert [(r.n, r.call_index, r.cached) for r in records] == [(6, 1, False)]


def test_distinct_messages_run_concurrently_and_keep_order(key_env: str) -> None:
    def echo(body: dict, index: int) -> str:
        return "echo:" + body["messages"][-1]["content"]

    with (
        OpenAIServer(latency=1.0, reply=echo) as server,
        open_model(spec(server), settings(key_env)) as client,
    ):
        lm = client.language_model(budget=1)
        messages = [f"m{i}" for i in (3, 1, 3, 2, 5, 1)]
        answers = lm.batch_prompt("sys", messages)
    assert answers == [f"echo:{m}" for m in messages]
    assert sorted(r.body["n"] for r in server.chat_requests) == [1, 1, 2, 2]
    # The server saw the 4 requests in flight together (each holds for 1 s): concurrency observed at the
    # server, not inferred from wall time, so a loaded machine cannot fail this.
    assert server.max_in_flight == 4


def test_server_ignoring_n_falls_back_to_parallel_requests(key_env: str) -> None:
    with (
        OpenAIServer(supports_n=False, latency=1.0) as server,
        open_model(spec(server), settings(key_env)) as client,
    ):
        lm = client.language_model(budget=2)
        first = lm.batch_prompt("sys", [MESSAGE] * 4)
        second = lm.prompt("sys", MESSAGE + "#2", n_responses=3)
    assert len(first) == 4 and len(second) == 3 and all(extract_code(a) for a in first + second)
    # First call: one n=4 request answered with 1 choice, then 3 parallel top-ups; second call goes
    # straight to 3 parallel single requests.
    assert [r.body["n"] for r in server.chat_requests] == [4, 1, 1, 1, 1, 1, 1]
    assert server.max_in_flight == 3  # the top-ups and the single requests went out together


def test_bad_arguments_are_rejected_before_charging(key_env: str) -> None:
    with open_model("offline") as client:
        lm = client.language_model(budget=1)
        with pytest.raises(TypeError):
            lm.batch_prompt("sys", MESSAGE)  # a string, not a list
        with pytest.raises(ValueError):
            lm.prompt("sys", MESSAGE, temperature=5)
        with pytest.raises(TypeError):
            lm.prompt(None, MESSAGE)  # type: ignore[arg-type]
        assert lm.calls_used == 0
