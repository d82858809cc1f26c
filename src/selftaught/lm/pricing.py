"""Prices (USD per million tokens) and the run-wide cost cap.

The built-in table is a convenience snapshot; prices change, so users override or extend it with a TOML
file (`--prices FILE`). A model missing from the table costs 0 unless a cost cap is set, in which case
`open_model` refuses to start (a cap that cannot measure anything would be a silent lie).
"""

from __future__ import annotations

import contextlib
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from selftaught.errors import UsageError
from selftaught.lm.errors import CostCapReached


@dataclass(frozen=True)
class Price:
    """USD per million input (prompt) and output (completion) tokens."""

    input: float
    output: float

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input + tokens_out * self.output) / 1_000_000


# Snapshot of list prices; edit via a prices file rather than here.
DEFAULT_PRICES: Mapping[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4": Price(30.00, 60.00),
    "gpt-4-0314": Price(30.00, 60.00),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
}


def load_prices(path: Path, base: Mapping[str, Price] = DEFAULT_PRICES) -> dict[str, Price]:
    """Read a TOML price file over `base`.

    Format: one table per model, e.g. `[prices."gpt-4o"]` with `input = 2.5` and `output = 10.0`
    (USD per million tokens); a top-level table per model without the `prices.` prefix works too.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"price file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"price file {path}: not valid TOML ({exc})") from None
    table = data.get("prices", data)
    prices = dict(base)
    for model, entry in table.items():
        if not isinstance(entry, dict) or not {"input", "output"} <= entry.keys():
            raise UsageError(
                f"price file {path}: [{model}] needs 'input' and 'output' (USD per million tokens)"
            )
        try:
            prices[model] = Price(float(entry["input"]), float(entry["output"]))
        except (TypeError, ValueError):
            raise UsageError(f"price file {path}: [{model}] prices must be numbers") from None
    return prices


def find_price(model: str, prices: Mapping[str, Price]) -> Price | None:
    """Exact name first, then the longest table entry the name starts with (dated snapshots such as
    'gpt-4o-2024-08-06' cost what 'gpt-4o' costs)."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name + "-")]
    return prices[max(matches, key=len)] if matches else None


class CostTracker:
    """Run-wide spend with a hard cap, shared by every LanguageModel of a client.

    A new call reserves its worst case (estimated prompt tokens plus n * max_tokens) before it is sent,
    so concurrent calls can never overshoot the cap together; the reservation is replaced by the real
    cost when the reply arrives.
    """

    def __init__(self, max_cost: float | None) -> None:
        self.max_cost = max_cost
        self._lock = threading.Lock()
        self._spent = 0.0
        self._reserved = 0.0

    @property
    def spent(self) -> float:
        with self._lock:
            return self._spent

    def reserve(self, estimate: float) -> float:
        """Reserve `estimate` USD or raise `CostCapReached`; returns the amount to pass to `settle`."""
        with self._lock:
            if self.max_cost is not None and self._spent + self._reserved + estimate > self.max_cost:
                raise CostCapReached(
                    f"cost cap reached: ${self._spent:.4f} spent (${self._reserved:.4f} in flight) and the next "
                    f"call may cost up to ${estimate:.4f}, over --max-cost ${self.max_cost:.4f}; raise "
                    "--max-cost to continue (cached calls still replay for free)"
                )
            self._reserved += estimate
            return estimate

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self._reserved -= reserved
            self._spent += actual


def price_known(spec: str, prices_file: str | Path | None = None) -> bool:
    """Whether a run's costs measure anything: True for the offline model (free) and for a model with
    a price in the built-in table or `prices_file`; False for an unpriced model (its costs read 0).
    A prices file that can no longer be read counts as absent."""
    if not spec.startswith("openai/"):
        return True
    model = spec.removeprefix("openai/").partition("@")[0]
    prices: Mapping[str, Price] = DEFAULT_PRICES
    if prices_file:
        with contextlib.suppress(UsageError):
            prices = load_prices(Path(prices_file))
    return find_price(model, prices) is not None
