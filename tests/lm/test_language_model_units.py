"""The paper's LanguageModel interface, rule by rule: argument checks at their exact bounds, what a call
charges and when, and what reaches the client (the offline model with a recorder, or the loopback
server answering with an echo of each message)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selftaught.errors import BudgetExceeded
from selftaught.lm import BUDGET_MESSAGE, CallRecord, LanguageModel, ModelSettings, open_model
from selftaught.testing.openai_server import OpenAIServer

from .conftest import settings, spec


def _echo(body: dict, index: int) -> str:
    return "echo:" + body["messages"][-1]["content"]


@pytest.fixture
def echo_server() -> Iterator[OpenAIServer]:
    with OpenAIServer(latency=0.0, reply=_echo) as running:
        yield running


def test_a_budget_may_be_zero_and_one_response_per_call_is_the_least() -> None:
    with open_model("offline") as client:
        none = LanguageModel(client, budget=0, max_responses_per_call=1)
        with pytest.raises(BudgetExceeded, match=BUDGET_MESSAGE):
            none.prompt("sys", "hello")
        assert none.calls_used == 0  # a refused call is not charged
        for budget, most in ((-1, 1), (0, 0), (3, -1)):
            with pytest.raises(ValueError, match="budget must be >= 0"):
                LanguageModel(client, budget=budget, max_responses_per_call=most)


def test_the_budget_is_exactly_its_number_of_calls_and_each_call_is_numbered() -> None:
    records: list[CallRecord] = []
    with open_model("offline:1", ModelSettings(recorder=records.append)) as client:
        lm = client.language_model(budget=2, purpose="t=1", scope="t=1 test=0")
        lm.prompt("sys", "first")
        lm.batch_prompt("sys", ["second", "third"])
        with pytest.raises(BudgetExceeded, match=BUDGET_MESSAGE):
            lm.prompt("sys", "fourth")
        assert lm.calls_used == 2 == lm.times_used
    assert [(r.call_index, r.purpose, r.scope) for r in records] == [
        (1, "t=1", "t=1 test=0"),
        (2, "t=1", "t=1 test=0"),
        (2, "t=1", "t=1 test=0"),
    ]


def test_the_repr_names_the_model_the_budget_and_the_calls_used() -> None:
    with open_model("offline:7") as client:
        lm = client.language_model(budget=3, max_responses_per_call=5)
        lm.prompt("sys", "hello")
        assert repr(lm) == "LanguageModel(offline:7, budget=3, used=1, max_responses_per_call=5)"


@pytest.mark.parametrize("n", [0, -1, True, 1.0, "2", None])
def test_n_responses_must_be_a_positive_integer(n: object) -> None:
    with open_model("offline") as client:
        lm = client.language_model(budget=1)
        with pytest.raises(ValueError, match="n_responses must be a positive integer"):
            lm.prompt("sys", "hello", n_responses=n)  # type: ignore[arg-type]
        assert lm.calls_used == 0


def test_the_most_responses_per_call_is_allowed_and_one_more_is_not() -> None:
    records: list[CallRecord] = []
    with open_model("offline", ModelSettings(recorder=records.append)) as client:
        lm = client.language_model(budget=4, max_responses_per_call=3)
        assert len(lm.prompt("sys", "hello", n_responses=3)) == 3
        assert len(lm.batch_prompt("sys", ["a", "b", "a"])) == 3
        with pytest.raises(ValueError, match=r"n_responses=4 exceeds max_responses_per_call=3"):
            lm.prompt("sys", "hello", n_responses=4)
        with pytest.raises(ValueError, match=r"len\(messages\)=4 exceeds max_responses_per_call=3"):
            lm.batch_prompt("sys", ["a", "b", "c", "d"])
        assert lm.calls_used == 2
    assert [r.n for r in records] == [3, 2, 1]


@pytest.mark.parametrize(
    ("given", "sent"), [(0, 0.0), (0.0, 0.0), (2, 2.0), (2.0, 2.0), (1, 1.0), (0.25, 0.25)]
)
def test_temperatures_from_zero_to_two_are_sent_as_floats(given: float, sent: float) -> None:
    records: list[CallRecord] = []
    with open_model("offline", ModelSettings(recorder=records.append)) as client:
        lm = client.language_model(budget=2)
        lm.prompt("sys", "hello", temperature=given)
        lm.batch_prompt("sys", ["bye"], temperature=given)
    assert [(r.temperature, type(r.temperature)) for r in records] == [(sent, float), (sent, float)]


@pytest.mark.parametrize("temperature", [-0.01, 2.01, True, False, "1", None, float("nan")])
def test_a_temperature_outside_zero_to_two_is_refused_before_charging(temperature: object) -> None:
    with open_model("offline") as client:
        lm = client.language_model(budget=1)
        with pytest.raises(ValueError, match="temperature must be a number between 0 and 2"):
            lm.prompt("sys", "hello", temperature=temperature)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="temperature must be a number between 0 and 2"):
            lm.batch_prompt("sys", ["hello"], temperature=temperature)  # type: ignore[arg-type]
        assert lm.calls_used == 0


@pytest.mark.parametrize(
    ("expertise", "message", "what"),
    [(None, "hello", "expertise"), (b"sys", "hello", "expertise"), ("sys", 3, "message")],
)
def test_prompt_texts_must_be_strings(expertise: object, message: object, what: str) -> None:
    with open_model("offline") as client:
        lm = client.language_model(budget=1)
        with pytest.raises(TypeError, match=f"{what} must be a string, got"):
            lm.prompt(expertise, message)  # type: ignore[arg-type]
        assert lm.calls_used == 0


@pytest.mark.parametrize(
    ("expertise", "messages", "match"),
    [
        ("sys", "hello", "messages must be a list of strings, got str"),
        ("sys", iter(["hello"]), "messages must be a list of strings, got list_iterator"),
        ("sys", {"hello"}, "messages must be a list of strings, got set"),
        ("sys", ["hello", 3], "each message must be a string, got int"),
        (None, ["hello"], "expertise must be a string, got NoneType"),
    ],
)
def test_batch_arguments_are_checked_before_charging(expertise: object, messages: object, match: str) -> None:
    with open_model("offline") as client:
        lm = client.language_model(budget=1)
        with pytest.raises(TypeError, match=match):
            lm.batch_prompt(expertise, messages)  # type: ignore[arg-type]
        assert lm.calls_used == 0


def test_a_tuple_of_messages_is_a_batch_and_an_empty_one_costs_nothing() -> None:
    with open_model("offline") as client:
        lm = client.language_model(budget=1)
        assert lm.batch_prompt("sys", ()) == []
        assert lm.calls_used == 0
        assert len(lm.batch_prompt("sys", ("a", "b"))) == 2
        assert lm.calls_used == 1


def test_batch_answers_come_back_in_message_order_and_prompt_answers_its_message(
    echo_server: OpenAIServer, key_env: str
) -> None:
    with open_model(spec(echo_server), settings(key_env)) as client:
        lm = client.language_model(budget=2)
        messages = ["m3", "m1", "m3", "m2", "m1", "m3"]
        assert lm.batch_prompt("expert", messages) == [f"echo:{m}" for m in messages]
        assert lm.prompt("expert", "only", n_responses=2) == ["echo:only", "echo:only"]
    # identical messages travel as one request with n; the system text reaches every request
    requests = sorted((r.body["messages"][-1]["content"], r.body["n"]) for r in echo_server.chat_requests)
    assert requests == [("m1", 2), ("m2", 1), ("m3", 3), ("only", 2)]
    assert {r.body["messages"][0]["content"] for r in echo_server.chat_requests} == {"expert"}


class _Short:
    """A client that breaks the Completer contract: it answers only the first message of a batch, and
    one answer too few when there is one message."""

    spec = "short"

    def complete(self, system: str, groups: list[tuple[str, int]], temperature: float, **kw: object):  # type: ignore[no-untyped-def]
        first = groups[0][1]
        return [("x",) * first] if len(groups) > 1 else [("x",) * (first - 1)]


def test_a_client_answering_short_is_an_error_not_an_empty_answer() -> None:
    """A batch never comes back with "" where an answer was missing: a client returning fewer groups or
    fewer answers than asked fails the call."""
    lm = LanguageModel(_Short(), budget=2, max_responses_per_call=6)
    with pytest.raises(ValueError):
        lm.batch_prompt("sys", ["a", "b"])  # two groups asked, the first answered in full, no second
    with pytest.raises(ValueError):
        lm.batch_prompt("sys", ["a", "a"])  # two answers asked for the group, one returned


def test_the_default_temperature_is_the_papers_0_7() -> None:
    records: list[CallRecord] = []
    with open_model("offline", ModelSettings(recorder=records.append)) as client:
        lm = client.language_model(budget=2)
        lm.prompt("sys", "hello")
        lm.batch_prompt("sys", ["bye"])
    assert [r.temperature for r in records] == [0.7, 0.7]


def test_a_budget_lowered_below_the_calls_made_refuses_the_next_call() -> None:
    with open_model("offline") as client:
        lm = client.language_model(budget=5)
        lm.prompt("sys", "one")
        lm.prompt("sys", "two")
        lm.budget = 1  # already two calls past it: refused, not counted on to reach it exactly
        with pytest.raises(BudgetExceeded, match=BUDGET_MESSAGE):
            lm.prompt("sys", "three")
        assert lm.calls_used == 2


def test_the_budget_and_the_responses_per_call_must_be_named() -> None:
    """Two integers in a row are easy to swap: both are keyword-only."""
    with open_model("offline") as client, pytest.raises(TypeError):
        LanguageModel(client, 3, 6)  # type: ignore[misc]
