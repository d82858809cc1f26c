"""What a model client is configured with, and what it reports about every call.

`ModelSettings` never holds the API key itself, only the name of the environment variable it is read
from, so settings can be stored with a run, printed and diffed without leaking it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from selftaught.errors import UsageError
from selftaught.lm.pricing import DEFAULT_PRICES, Price

CacheMode = Literal["off", "read-write", "replay"]
CACHE_MODES: tuple[str, ...] = ("off", "read-write", "replay")


@dataclass(frozen=True)
class CallRecord:
    """One logical request (one prompt, `n` answers) as the run store persists it.

    `prompt_sha` is the cache key (sha256 over model, system text, message, n, temperature, max tokens);
    `response_shas` are sha256 of each answer's text, so answers can be joined with content-addressed
    programs. `ordinal` is k for the k-th identical call in `scope`. Never contains the API key.
    """

    model: str
    purpose: str
    scope: str
    n: int
    temperature: float
    max_tokens: int
    tokens_in: int
    tokens_out: int
    latency_s: float
    cost_usd: float
    cached: bool
    error: str | None
    prompt_sha: str
    response_shas: tuple[str, ...]
    ordinal: int
    call_index: int  # 1-based number of the LanguageModel call (budget unit) this request belonged to
    started_at: float  # unix time
    finish_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSettings:
    """Client configuration; defaults are the paper's (max tokens 1024) plus safe operational ones."""

    api_key_env: str = "OPENAI_API_KEY"
    max_tokens: int = 1024
    timeout: float = 120.0  # seconds per HTTP request
    concurrency: int = 8  # HTTP requests in flight per client
    max_retries: int = 6  # extra attempts after the first, on 429/5xx/timeouts/connection errors
    backoff_base: float = 0.5  # seconds; attempt i waits up to base * 2**i (full jitter), or Retry-After
    backoff_max: float = 30.0
    max_cost: float | None = None  # USD, run-wide; None = no cap
    prices: Mapping[str, Price] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    prices_file: Path | None = None  # TOML merged over `prices` when the client opens
    cache_path: Path | None = None  # SQLite file; None = no persistent cache
    cache_mode: CacheMode = "read-write"
    recorder: Callable[[CallRecord], None] | None = None
    supports_n: bool | None = None  # None = detect: fall back to parallel requests if `n` is ignored

    def __post_init__(self) -> None:
        if self.cache_mode not in CACHE_MODES:
            raise UsageError(f"cache mode {self.cache_mode!r} is not one of {', '.join(CACHE_MODES)}")
        if self.cache_mode == "replay" and self.cache_path is None:
            raise UsageError("replay mode needs a cache file: pass the cache path of the run to replay")
        for name in ("max_tokens", "concurrency"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1")
        if self.timeout <= 0 or self.max_retries < 0 or self.backoff_base < 0:
            raise UsageError("timeout must be positive; max_retries and backoff_base non-negative")
        if self.max_cost is not None and self.max_cost < 0:
            raise UsageError("max_cost must be non-negative (USD)")
