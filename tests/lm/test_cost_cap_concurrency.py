"""The cost cap under concurrency, against the loopback OpenAI-compatible server.

Each new call reserves its worst case before it is sent and settles to its real cost after; a call is
refused when what was spent, plus what is in flight, plus its own worst case would pass the cap. Calls
made one at a time cannot tell "in flight" from "spent", so here many threads call at once against a
server that answers slowly: every call is in flight together, and the cap must still hold.
"""

from __future__ import annotations

import threading
from pathlib import Path

from selftaught.lm import CallRecord, CostCapReached, open_model
from selftaught.testing.openai_server import OpenAIServer

from .conftest import MESSAGE, settings, spec

THREADS = 12


def test_concurrent_calls_never_overshoot_the_cost_cap(key_env: str, tmp_path: Path) -> None:
    """Worst case of one call: ~40 prompt tokens + 100 output tokens at $1000 per million, about $0.14;
    a $0.30 cap has room for two calls in flight, never for twelve (their real cost, well under their
    worst case, would add up past the cap if the cap only looked at what was already spent)."""
    prices = tmp_path / "prices.toml"
    prices.write_text('[prices."test-model"]\ninput = 1000.0\noutput = 1000.0\n')
    records: list[CallRecord] = []
    cfg = settings(key_env, None, records, prices_file=prices, max_cost=0.3, max_tokens=100, timeout=30.0)
    start = threading.Barrier(THREADS)
    refused: list[CostCapReached] = []
    with OpenAIServer(latency=0.3) as server, open_model(spec(server), cfg) as client:

        def call(i: int) -> None:
            lm = client.language_model(budget=1)
            start.wait()
            try:
                lm.prompt("sys", f"{MESSAGE}# caller {i}")
            except CostCapReached as exc:
                refused.append(exc)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent = len(server.chat_requests)
        spent = client.spent_usd
    assert 1 <= sent <= 2, f"{sent} calls were sent under a cap with room for two worst cases"
    assert len(refused) == THREADS - sent
    assert 0 < spent <= 0.3
    assert sum(record.cost_usd for record in records) == spent


def test_a_price_is_per_million_tokens_exactly() -> None:
    """One million input tokens at $2.50 and half a million output tokens at $10.00 cost $7.50: exact,
    since every cap and report adds these up."""
    from selftaught.lm.pricing import Price

    assert Price(2.50, 10.00).cost(1_000_000, 500_000) == 7.5
    assert Price(0.15, 0.60).cost(2_000, 0) == 0.0003
