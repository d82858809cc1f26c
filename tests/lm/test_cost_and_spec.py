"""Cost cap, price files, model specs and key handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.errors import BudgetExceeded, UsageError
from selftaught.lm import (
    CallRecord,
    CostCapReached,
    ModelSettings,
    Price,
    load_prices,
    open_model,
    parse_spec,
)
from selftaught.testing.openai_server import OpenAIServer

from .conftest import MESSAGE, settings, spec


def _prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text('[prices."test-model"]\ninput = 1000.0\noutput = 1000.0\n')
    return path


def test_cost_cap_stops_new_calls_cleanly(server: OpenAIServer, key_env: str, tmp_path: Path) -> None:
    records: list[CallRecord] = []
    # Worst case of one call: ~40 prompt tokens + 100 output tokens at $1000/M = ~$0.14; the cap allows 2.
    cfg = settings(key_env, tmp_path, records, prices_file=_prices(tmp_path), max_cost=0.3, max_tokens=100)
    with open_model(spec(server), cfg) as client:
        lm = client.language_model(budget=10)
        answered = 0
        with pytest.raises(CostCapReached, match="--max-cost") as caught:
            for i in range(10):
                lm.prompt("sys", f"{MESSAGE}# {i}")
                answered += 1
        assert isinstance(caught.value, BudgetExceeded)
        assert 1 <= answered < 10
        assert len(server.chat_requests) == answered, "the call over the cap must not be sent"
        assert 0 < client.spent_usd <= 0.3
        assert sum(r.cost_usd for r in records) == pytest.approx(client.spent_usd)
        # Cached answers cost nothing and still replay once the cap is reached.
    with open_model(spec(server), cfg) as client:
        assert client.language_model(budget=1).prompt("sys", f"{MESSAGE}# 0")


def test_cost_is_computed_from_usage_and_price(server: OpenAIServer, key_env: str, tmp_path: Path) -> None:
    records: list[CallRecord] = []
    with open_model(spec(server), settings(key_env, None, records, prices_file=_prices(tmp_path))) as client:
        client.language_model().prompt("sys", MESSAGE, n_responses=3)
    record = records[0]
    assert record.tokens_in > 0 and record.tokens_out > 0
    assert record.cost_usd == pytest.approx((record.tokens_in + record.tokens_out) * 1000 / 1e6)


def test_cost_cap_without_a_price_is_refused(server: OpenAIServer, key_env: str) -> None:
    with pytest.raises(UsageError, match=r"no known price.*--prices-file"):
        open_model(spec(server, "my-local-llama"), settings(key_env, max_cost=1.0))


def test_price_file_parsing(tmp_path: Path) -> None:
    prices = load_prices(_prices(tmp_path))
    assert prices["test-model"] == Price(1000.0, 1000.0) and "gpt-4o" in prices
    bad = tmp_path / "bad.toml"
    bad.write_text('[prices."x"]\ninput = 1\n')
    with pytest.raises(UsageError, match="needs 'input' and 'output'"):
        load_prices(bad)


@pytest.mark.parametrize(
    ("text", "name", "base_url"),
    [
        ("offline", "offline:0", None),
        ("offline:42", "offline:42", None),
        ("openai/gpt-4o", "openai/gpt-4o", None),
        ("openai/llama3@http://127.0.0.1:8000/v1", "openai/llama3", "http://127.0.0.1:8000/v1"),
    ],
)
def test_specs_parse(text: str, name: str, base_url: str | None) -> None:
    parsed = parse_spec(text)
    assert parsed.name == name and parsed.base_url == base_url


@pytest.mark.parametrize(
    "text", ["gpt-4o", "offline:abc", "openai/", "openai/m@ftp://x", "openai/m@nohost", ""]
)
def test_bad_specs_are_usage_errors_with_a_fix(text: str) -> None:
    with pytest.raises(UsageError, match="openai/<model>"):
        parse_spec(text)


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SELFTAUGHT_NO_SUCH_KEY", raising=False)
    with pytest.raises(UsageError, match=r"\$SELFTAUGHT_NO_SUCH_KEY"):
        open_model("openai/gpt-4o", ModelSettings(api_key_env="SELFTAUGHT_NO_SUCH_KEY"))
