"""The built-in price table, price files, name matching and the cost tracker, one rule at a time.

The table's numbers are list prices in USD per million tokens as the model vendor published them
(OpenAI's pricing page, standard tier, as of the table's snapshot). Each expected cost below is worked
out by hand from those published prices, not read back from the table: 2,000 prompt tokens and 500
completion tokens cost `2000 * input / 1e6 + 500 * output / 1e6`, so both prices of every model show.
Reproduce any row with `python3 -c "print(2000 * 2.50 / 1e6 + 500 * 10.00 / 1e6)"` (gpt-4o).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from selftaught.errors import BudgetExceeded, UsageError
from selftaught.lm import DEFAULT_PRICES, CostCapReached, Price, load_prices
from selftaught.lm.pricing import CostTracker, find_price, price_known

# model -> (published input price, published output price, cost of 2,000 in + 500 out, by hand)
PUBLISHED = {
    "gpt-4o": (2.50, 10.00, 0.005 + 0.005),  # 2000 * 2.50e-6 + 500 * 10.00e-6
    "gpt-4o-mini": (0.15, 0.60, 0.0003 + 0.0003),  # 2000 * 0.15e-6 + 500 * 0.60e-6
    "gpt-4.1": (2.00, 8.00, 0.004 + 0.004),  # 2000 * 2.00e-6 + 500 * 8.00e-6
    "gpt-4.1-mini": (0.40, 1.60, 0.0008 + 0.0008),  # 2000 * 0.40e-6 + 500 * 1.60e-6
    "gpt-4.1-nano": (0.10, 0.40, 0.0002 + 0.0002),  # 2000 * 0.10e-6 + 500 * 0.40e-6
    "gpt-4": (30.00, 60.00, 0.06 + 0.03),  # 2000 * 30e-6 + 500 * 60e-6
    "gpt-4-0314": (30.00, 60.00, 0.06 + 0.03),  # the paper's model: same price as gpt-4
    "gpt-4-turbo": (10.00, 30.00, 0.02 + 0.015),  # 2000 * 10e-6 + 500 * 30e-6
    "gpt-3.5-turbo": (0.50, 1.50, 0.001 + 0.00075),  # 2000 * 0.50e-6 + 500 * 1.50e-6
    "o3-mini": (1.10, 4.40, 0.0022 + 0.0022),  # 2000 * 1.10e-6 + 500 * 4.40e-6
    "o4-mini": (1.10, 4.40, 0.0022 + 0.0022),  # 2000 * 1.10e-6 + 500 * 4.40e-6
}


def test_the_table_holds_exactly_the_published_models() -> None:
    assert set(DEFAULT_PRICES) == set(PUBLISHED)


@pytest.mark.parametrize("model", sorted(PUBLISHED))
def test_each_models_cost_is_its_published_price(model: str) -> None:
    published_in, published_out, by_hand = PUBLISHED[model]
    assert DEFAULT_PRICES[model] == Price(published_in, published_out)
    assert DEFAULT_PRICES[model].cost(2000, 500) == pytest.approx(by_hand, rel=1e-12)


def test_a_dated_snapshot_costs_what_its_longest_named_prefix_costs() -> None:
    assert find_price("gpt-4o-2024-08-06", DEFAULT_PRICES) == Price(2.50, 10.00)
    # both 'gpt-4o' and 'gpt-4o-mini' prefix it: the longer, more specific name wins
    assert find_price("gpt-4o-mini-2024-07-18", DEFAULT_PRICES) == Price(0.15, 0.60)
    assert find_price("gpt-4-0613", DEFAULT_PRICES) == Price(30.00, 60.00)
    # an exact name wins even when a shorter entry prefixes it
    assert find_price("gpt-4.1-nano", DEFAULT_PRICES) == Price(0.10, 0.40)


@pytest.mark.parametrize("model", ["gpt-4omni", "gpt-5", "my-local-llama", "", "gpt-4ox"])
def test_a_name_that_only_resembles_a_priced_one_has_no_price(model: str) -> None:
    assert find_price(model, DEFAULT_PRICES) is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    return path


def test_a_price_file_overrides_and_extends_the_table_it_is_read_over(tmp_path: Path) -> None:
    path = _write(
        tmp_path, '[prices."gpt-4o"]\ninput = 1\noutput = 2\n[prices.llama]\ninput = 3\noutput = 4\n'
    )
    prices = load_prices(path)
    assert prices["gpt-4o"] == Price(1.0, 2.0) and prices["llama"] == Price(3.0, 4.0)
    assert prices["gpt-4"] == DEFAULT_PRICES["gpt-4"]  # the rest of the base stays
    assert DEFAULT_PRICES["gpt-4o"] == Price(2.50, 10.00)  # the base itself is not changed
    assert load_prices(path, base={}) == {"gpt-4o": Price(1.0, 2.0), "llama": Price(3.0, 4.0)}


def test_a_price_file_may_leave_out_the_prices_prefix_and_carry_extra_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, '[llama]\ninput = 0.5\noutput = 0.25\ncached_input = 0.1\nnote = "ours"\n')
    assert load_prices(path, base={}) == {"llama": Price(0.5, 0.25)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[prices.x]\ninput = 1\n", "needs 'input' and 'output'"),
        ("[prices.x]\noutput = 1\n", "needs 'input' and 'output'"),
        ("[prices]\nx = 1\n", "needs 'input' and 'output'"),
        ('[prices.x]\ninput = "cheap"\noutput = 1\n', "must be numbers"),
        ("[prices.x]\ninput = [1]\noutput = 1\n", "must be numbers"),
        ("[prices.x\n", "not valid TOML"),
    ],
)
def test_a_bad_price_file_is_a_usage_error_saying_what_is_wrong(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        load_prices(_write(tmp_path, text))


def test_a_missing_or_undecodable_price_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_prices(tmp_path / "absent.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe[prices]")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_prices(binary)


def test_whether_a_price_is_known(tmp_path: Path) -> None:
    assert price_known("offline") and price_known("offline:3")  # the offline model is free
    assert price_known("openai/gpt-4o") and price_known("openai/gpt-4o-2024-08-06@http://127.0.0.1:1/v1")
    assert not price_known("openai/llama") and not price_known("openai/llama@http://127.0.0.1:1/v1")
    priced = _write(tmp_path, "[prices.llama]\ninput = 1\noutput = 1\n")
    assert price_known("openai/llama", priced) and price_known("openai/llama@http://h:1/v1", str(priced))
    broken = tmp_path / "broken.toml"
    broken.write_text("[prices.llama\n")
    assert not price_known("openai/llama", broken)  # unreadable counts as absent
    assert price_known("openai/gpt-4o", broken)  # and the built-in table still answers


def test_the_cap_allows_spending_up_to_it_exactly_and_not_a_cent_more() -> None:
    tracker = CostTracker(1.0)
    first = tracker.reserve(0.25)
    assert first == 0.25
    second = tracker.reserve(0.75)  # 0.25 + 0.75 == the cap: allowed
    with pytest.raises(CostCapReached, match=r"--max-cost \$1\.0000") as caught:
        tracker.reserve(0.01)  # both still in flight: nothing is left
    assert isinstance(caught.value, BudgetExceeded)
    assert "$0.0000 spent ($1.0000 in flight)" in str(caught.value)
    tracker.settle(first, 0.125)  # the first came back cheaper than reserved
    assert tracker.spent == 0.125
    tracker.settle(second, 0.5)
    assert tracker.spent == 0.625
    tracker.reserve(0.375)  # 0.625 spent + 0.375 == the cap
    with pytest.raises(CostCapReached, match=r"\$0\.6250 spent \(\$0\.3750 in flight\)"):
        tracker.reserve(0.001)


def test_settling_frees_the_reservation_for_the_next_call() -> None:
    tracker = CostTracker(1.0)
    held = tracker.reserve(0.9)
    with pytest.raises(CostCapReached):
        tracker.reserve(0.2)
    tracker.settle(held, 0.0)  # a reply that cost nothing (a cached answer) frees all of it
    assert tracker.spent == 0.0
    tracker.reserve(1.0)


def test_without_a_cap_nothing_is_refused_and_spend_still_adds_up() -> None:
    tracker = CostTracker(None)
    amounts = [tracker.reserve(1e9) for _ in range(3)]
    for amount in amounts:
        tracker.settle(amount, 2.5)
    assert tracker.spent == 7.5


def test_concurrent_reservations_and_settlements_lose_no_cent() -> None:
    tracker = CostTracker(None)
    start = threading.Barrier(8)

    def spend() -> None:
        start.wait()
        for _ in range(500):
            tracker.settle(tracker.reserve(0.5), 0.25)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tracker.spent == 8 * 500 * 0.25
    assert tracker._reserved == 0.0


def test_a_price_cannot_be_changed_in_place() -> None:
    """The built-in table is shared by every client in the process: a price is a value, not a setting."""
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_PRICES["gpt-4o"].input = 0.0  # type: ignore[misc]
    assert DEFAULT_PRICES["gpt-4o"] == Price(2.50, 10.00)
    assert len({Price(1.0, 2.0), Price(1.0, 2.0)}) == 1  # hashable by value
