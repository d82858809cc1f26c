"""The run store: one SQLite file per run, everything that happened as rows.

Why SQLite in WAL mode: a run may be killed at any moment (SIGKILL included) and must resume without
redoing finished work, so every finished evaluation is committed as soon as it exists; readers (reports,
`selftaught runs`) can open the file while the run is still writing. Programs are content-addressed by
sha256 so the same improver or algorithm is stored once however often it is evaluated.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS programs (
    sha TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY, program_sha TEXT NOT NULL, task TEXT NOT NULL, split TEXT NOT NULL,
    seed INTEGER NOT NULL, utility REAL NOT NULL, instances INTEGER NOT NULL, failures INTEGER NOT NULL,
    setup_error TEXT, wall_seconds REAL NOT NULL, created REAL NOT NULL,
    UNIQUE (program_sha, task, split, seed));
CREATE TABLE IF NOT EXISTS improver_runs (
    id INTEGER PRIMARY KEY, context TEXT NOT NULL, improver_sha TEXT NOT NULL, task TEXT NOT NULL,
    test_index INTEGER NOT NULL, input_sha TEXT NOT NULL, output_sha TEXT, status TEXT NOT NULL,
    error TEXT, utility_val REAL, utility_test REAL, lm_calls INTEGER NOT NULL, utility_calls INTEGER NOT NULL,
    wall_seconds REAL NOT NULL, created REAL NOT NULL,
    UNIQUE (context, improver_sha, task, test_index));
CREATE TABLE IF NOT EXISTS meta_utilities (
    id INTEGER PRIMARY KEY, context TEXT NOT NULL, improver_sha TEXT NOT NULL, task TEXT NOT NULL,
    value_val REAL NOT NULL, value_test REAL NOT NULL, stderr_val REAL NOT NULL, stderr_test REAL NOT NULL,
    tests INTEGER NOT NULL, created REAL NOT NULL,
    UNIQUE (context, improver_sha, task));
CREATE TABLE IF NOT EXISTS iterations (
    t INTEGER PRIMARY KEY, improver_sha TEXT NOT NULL, parent_sha TEXT, status TEXT NOT NULL,
    meta_utility_val REAL NOT NULL, meta_utility_test REAL NOT NULL,
    stderr_val REAL NOT NULL, stderr_test REAL NOT NULL, note TEXT,
    lm_calls INTEGER NOT NULL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL,
    cost_usd REAL NOT NULL, wall_seconds REAL NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS lm_calls (
    id INTEGER PRIMARY KEY, iteration INTEGER, purpose TEXT, model TEXT NOT NULL, n INTEGER NOT NULL,
    temperature REAL, tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, latency_s REAL NOT NULL,
    cost_usd REAL NOT NULL, cached INTEGER NOT NULL, error TEXT, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, iteration INTEGER, kind TEXT NOT NULL, program_sha TEXT, detail TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS transfers (
    id INTEGER PRIMARY KEY, label TEXT NOT NULL, improver_sha TEXT, task TEXT NOT NULL,
    mean REAL NOT NULL, stderr REAL NOT NULL, tests INTEGER NOT NULL, created REAL NOT NULL,
    UNIQUE (label, task));
CREATE INDEX IF NOT EXISTS events_kind ON events (kind);
"""


def sha256(text: str) -> str:
    """Content address of a program (hex sha256 of its UTF-8 text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IterationRecord:
    """One row of the `iterations` table: t=0 is the starting improver, t>=1 the improved (or kept) ones.

    Shared by the loop that writes it and the reports that read it, so both agree on its shape.
    """

    t: int
    improver_sha: str
    parent_sha: str | None
    status: str  # "seed" | "improved" | "kept"
    meta_utility_val: float
    meta_utility_test: float
    stderr_val: float
    stderr_test: float
    note: str | None
    lm_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    wall_seconds: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> IterationRecord:
        return cls(**{key: row[key] for key in cls.__dataclass_fields__})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredEvaluation:
    utility: float
    instances: int
    failures: int
    setup_error: str | None
    wall_seconds: float


class RunStore:
    """Thread-safe access to one run's SQLite file.

    One connection guarded by a lock: writes are small and frequent, and SQLite serialises writers anyway;
    a single connection avoids `database is locked` errors between our own threads.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        if self.get_meta("schema_version") is None:
            self.set_meta("schema_version", SCHEMA_VERSION)

    @classmethod
    def open_existing(cls, path: Path) -> RunStore:
        """Open a store that must already exist (reports, resume); never creates an empty one."""
        if not Path(path).is_file():
            from selftaught.errors import UsageError

            raise UsageError(f"no run store at {path}")
        return cls(path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read rows as `sqlite3.Row` (mapping access by column name)."""
        with self._lock:
            cursor = self._db.execute(sql, params)
            cursor.row_factory = sqlite3.Row
            return list(cursor.fetchall())

    # --- run metadata -------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0]["value"]) if rows else default

    # --- programs -----------------------------------------------------------------------------------
    def put_program(self, source: str, kind: str) -> str:
        sha = sha256(source)
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO programs VALUES (?, ?, ?, ?)", (sha, kind, source, time.time())
            )
        return sha

    def get_program(self, sha: str) -> str | None:
        rows = self.query("SELECT source FROM programs WHERE sha = ?", (sha,))
        return rows[0]["source"] if rows else None

    # --- evaluations (memoised: a program's utility on a split and seed is a fact) ------------------
    def get_evaluation(self, sha: str, task: str, split: str, seed: int) -> StoredEvaluation | None:
        rows = self.query(
            "SELECT utility, instances, failures, setup_error, wall_seconds FROM evaluations "
            "WHERE program_sha = ? AND task = ? AND split = ? AND seed = ?",
            (sha, task, split, seed),
        )
        if not rows:
            return None
        row = rows[0]
        return StoredEvaluation(
            row["utility"], row["instances"], row["failures"], row["setup_error"], row["wall_seconds"]
        )

    def put_evaluation(self, sha: str, task: str, split: str, seed: int, result: StoredEvaluation) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO evaluations (program_sha, task, split, seed, utility, instances, "
                "failures, setup_error, wall_seconds, created) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (sha, task, split, seed, result.utility, result.instances, result.failures,
                 result.setup_error, result.wall_seconds, time.time()),
            )

    # --- generic row insertion for the append-only tables -------------------------------------------
    def insert(self, table: str, row: dict[str, Any], *, ignore_duplicate: bool = False) -> None:
        if table not in _TABLES:
            raise ValueError(f"unknown table {table!r}")
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        verb = "INSERT OR IGNORE" if ignore_duplicate else "INSERT OR REPLACE"
        with self._transaction() as db:
            db.execute(f"{verb} INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))

    def add_event(self, kind: str, detail: str, *, program_sha: str | None = None,
                  iteration: int | None = None) -> None:
        self.insert("events", {"iteration": iteration, "kind": kind, "program_sha": program_sha,
                               "detail": detail[:4000], "created": time.time()})


_TABLES = frozenset(
    {"programs", "evaluations", "improver_runs", "meta_utilities", "iterations", "lm_calls", "events",
     "transfers"}
)
