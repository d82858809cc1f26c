"""Persistent response cache with in-order replay (SQLite, WAL).

Row identity is (key, scope, ordinal): the k-th identical call (same model, system text, message, n,
temperature, max tokens) within a scope gets the k-th recorded answer, and a new answer is fetched only
past the recorded ones — the paper's cache semantics, which is what lets a resumed run spend nothing
twice. Ordinals are counted per client lifetime by `OrdinalCounter`, not stored state, so a fresh
process replays from k = 0.

Every answer is committed as soon as it arrives (a run killed mid-batch keeps what it paid for). The
API key is never part of a row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import defaultdict
from pathlib import Path

from selftaught.lm.backend import Completion, Request

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT NOT NULL,
    scope TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    model TEXT NOT NULL,
    system TEXT NOT NULL,
    message TEXT NOT NULL,
    n INTEGER NOT NULL,
    temperature REAL NOT NULL,
    max_tokens INTEGER NOT NULL,
    texts TEXT NOT NULL,
    finish_reasons TEXT NOT NULL,
    tokens_in INTEGER NOT NULL,
    tokens_out INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (key, scope, ordinal)
)
"""


class OrdinalCounter:
    """Assigns k to each identical call: the number of earlier calls with the same (scope, key).

    Deterministic when calls with the same key in the same scope are issued in a deterministic order
    (one thread per scope, or the fixed order of messages within one batch). Identical calls racing in
    one scope from several threads get ordinals in arrival order, which may differ between runs.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: defaultdict[tuple[str, str], int] = defaultdict(int)

    def next(self, scope: str, key: str) -> int:
        with self._lock:
            ordinal = self._counts[(scope, key)]
            self._counts[(scope, key)] = ordinal + 1
            return ordinal


class ResponseCache:
    """Thread-safe SQLite store of answers keyed by (key, scope, ordinal)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def get(self, request: Request) -> Completion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT texts, finish_reasons, tokens_in, tokens_out FROM responses"
                " WHERE key = ? AND scope = ? AND ordinal = ?",
                (request.key, request.scope, request.ordinal),
            ).fetchone()
        if row is None:
            return None
        return Completion(
            texts=tuple(json.loads(row[0])),
            tokens_in=int(row[2]),
            tokens_out=int(row[3]),
            finish_reasons=tuple(json.loads(row[1])),
        )

    def put(self, request: Request, completion: Completion, cost_usd: float) -> None:
        """Record an answer; the first answer recorded for a slot wins (replays must not drift)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request.key,
                    request.scope,
                    request.ordinal,
                    request.model,
                    request.system,
                    request.message,
                    request.n,
                    request.temperature,
                    request.max_tokens,
                    json.dumps(list(completion.texts), ensure_ascii=False),
                    json.dumps(list(completion.finish_reasons)),
                    completion.tokens_in,
                    completion.tokens_out,
                    cost_usd,
                    time.time(),
                ),
            )

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
