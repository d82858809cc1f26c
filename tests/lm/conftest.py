"""Shared fixtures: a real loopback OpenAI-compatible server and a key that exists only in the env."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from selftaught.lm import CallRecord, ModelSettings
from selftaught.testing.openai_server import OpenAIServer

KEY_ENV = "SELFTAUGHT_TEST_KEY"
SECRET_KEY = "sk-test-7f3a9c0e5b1d-secret"
PROGRAM = (
    "def algorithm(x):\n    total = 0\n    for i in range(100):\n        total += x * 0.5\n    return total\n"
)
MESSAGE = f"Improve the following solution:\n```python\n{PROGRAM}```\n"


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET_KEY)
    return KEY_ENV


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(latency=0.0) as running:
        yield running


def settings(
    key_env: str, tmp_path: Path | None = None, records: list[CallRecord] | None = None, **kw: object
) -> ModelSettings:
    """Fast settings for tests: tiny backoff, short timeout, optional cache file and recorder."""
    base: dict[str, object] = {
        "api_key_env": key_env,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "timeout": 2.0,
        "max_retries": 4,
        "cache_path": tmp_path / "lm-cache.sqlite" if tmp_path is not None else None,
        "recorder": records.append if records is not None else None,
    }
    base.update(kw)
    return ModelSettings(**base)  # type: ignore[arg-type]


def spec(server: OpenAIServer, model: str = "test-model") -> str:
    return f"openai/{model}@{server.base_url}"
