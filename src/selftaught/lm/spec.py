"""Model spec strings: `offline[:SEED]` and `openai/<model>[@<base_url>]` (a fixed part of the CLI contract)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlparse

from selftaught.errors import UsageError

_FIX = "use 'offline', 'offline:SEED' or 'openai/<model>[@<base_url>]', e.g. openai/gpt-4o or openai/llama3@http://127.0.0.1:8000/v1"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec. `name` is the identity used in cache keys and price lookups."""

    kind: Literal["offline", "openai"]
    model: str  # "offline" or the endpoint's model name
    seed: int = 0
    base_url: str | None = None

    @property
    def name(self) -> str:
        """Cache/price identity. The base URL is left out on purpose: a server that moves to another
        port (or a test server on a random port) must still hit the same cached answers."""
        return f"offline:{self.seed}" if self.kind == "offline" else f"openai/{self.model}"

    def __str__(self) -> str:
        if self.kind == "openai" and self.base_url:
            return f"{self.name}@{self.base_url}"
        return self.name


def parse_spec(spec: str) -> ModelSpec:
    """Parse a spec string; anything malformed is a `UsageError` whose message says how to fix it."""
    text = spec.strip()
    if text == "offline":
        return ModelSpec(kind="offline", model="offline")
    if text.startswith("offline:"):
        seed_text = text.removeprefix("offline:")
        if not seed_text.isdigit():
            raise UsageError(
                f"bad model spec {spec!r}: the offline seed must be a non-negative integer; {_FIX}"
            )
        return ModelSpec(kind="offline", model="offline", seed=int(seed_text))
    if text.startswith("openai/"):
        rest = text.removeprefix("openai/")
        model, _, base_url = rest.partition("@")
        if not model or any(ch.isspace() for ch in model):
            raise UsageError(f"bad model spec {spec!r}: missing model name after 'openai/'; {_FIX}")
        if "@" in text and not _valid_url(base_url):
            raise UsageError(f"bad model spec {spec!r}: {base_url!r} is not an http(s) URL; {_FIX}")
        return ModelSpec(kind="openai", model=model, base_url=base_url or None)
    raise UsageError(f"bad model spec {spec!r}{_close_spec(text)}: {_FIX}")


def _close_spec(text: str) -> str:
    """' (did you mean X?)' for a near miss: 'ofline' -> 'offline', 'gpt-4o' -> 'openai/gpt-4o',
    'opena/gpt-4o' -> 'openai/gpt-4o'; '' when nothing is close."""
    head, colon, seed = text.partition(":")
    if difflib.get_close_matches(head.lower(), ["offline"], n=1, cutoff=0.6):
        guess = "offline" + (f":{seed}" if colon and seed.isdigit() else "")
    else:
        prefix, slash, rest = text.partition("/")
        if slash and rest and difflib.get_close_matches(prefix.lower(), ["openai"], n=1, cutoff=0.6):
            guess = f"openai/{rest}"
        elif not slash and text and not any(ch.isspace() for ch in text):
            guess = f"openai/{text}"
        else:
            return ""
    return f" (did you mean {guess!r}?)"


def _valid_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)
