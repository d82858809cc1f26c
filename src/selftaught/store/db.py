"""The run store: one SQLite file per run, everything that happened as typed rows.

Why SQLite in WAL mode: a run may be killed at any moment (SIGKILL included) and must resume without
redoing finished work, so every finished evaluation is committed as soon as it exists; readers (reports,
`selftaught runs`) can open the file while the run is still writing. Programs are content-addressed by
sha256 so the same improver or algorithm is stored once however often it is evaluated.

This module and `reader.py` hold every SQL statement about a run: callers hand in and get back the
records of `records.py`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from selftaught.errors import UsageError
from selftaught.store import schema
from selftaught.store.reader import RunReader
from selftaught.store.records import (
    EvaluationRecord,
    ImproverRunRecord,
    IterationRecord,
    LmCallRecord,
    MetaUtilityRecord,
    RunMeta,
    StoredEvaluation,
    TransferCell,
    UtilityCallRecord,
)

__all__ = ["IterationRecord", "RunStore", "StoredEvaluation", "sha256"]

SCHEMA_VERSION = schema.SCHEMA_VERSION


def sha256(text: str) -> str:
    """Content address of a program (hex sha256 of its UTF-8 text)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RunStore(RunReader):
    """Read-write access to one run's SQLite file: creates it, or migrates an older one, when opened.

    One connection guarded by a lock: writes are small and frequent, and SQLite serialises writers anyway;
    a single connection avoids `database is locked` errors between our own threads.
    """

    def __init__(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            schema.migrate(db)
        except ValueError as exc:
            db.close()
            raise UsageError(f"{path}: {exc}") from None
        super().__init__(db, path)

    @classmethod
    def open_existing(cls, path: Path) -> RunStore:
        """Open a store that must already exist (resume, transfer); never creates an empty one."""
        if not Path(path).is_file():
            raise UsageError(f"no run store at {path}")
        return cls(path)

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

    def _insert(self, table: str, row: dict[str, Any], *, verb: str = "INSERT") -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._transaction() as db:
            db.execute(f"{verb} INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))

    # --- run metadata ------------------------------------------------------------------------------
    def write_meta(self, meta: RunMeta) -> None:
        """Store every field of `meta` (one row per field)."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(key, json.dumps(value)) for key, value in meta.to_values().items()],
            )

    def update_meta(self, **changes: Any) -> RunMeta:
        """Change some fields (names and types of `RunMeta`); returns the new record."""
        meta = replace(self.meta(), **changes)
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(key, json.dumps(getattr(meta, key))) for key in changes],
            )
        return meta

    # --- programs and evaluations (memoised: a program's utility on a split and seed is a fact) ------
    def put_program(self, source: str, kind: str) -> str:
        sha = sha256(source)
        self._insert(
            "programs",
            {"sha": sha, "kind": kind, "source": source, "created": time.time()},
            verb="INSERT OR IGNORE",
        )
        return sha

    def put_evaluation(self, sha: str, task: str, split: str, seed: int, result: EvaluationRecord) -> None:
        self._insert(
            "evaluations",
            {
                "program_sha": sha,
                "task": task,
                "split": split,
                "seed": seed,
                "utility": result.utility,
                "instances": result.instances,
                "failures": result.failures,
                "setup_error": result.setup_error,
                "wall_seconds": result.wall_seconds,
                "created": time.time(),
                "metrics": json.dumps(result.metrics),
                "artifacts": json.dumps(result.artifacts),
            },
            verb="INSERT OR IGNORE",
        )

    # --- the loop's records ----------------------------------------------------------------------------
    def add_iteration(self, record: IterationRecord) -> None:
        self._insert("iterations", {**record.to_dict(), "created": time.time()}, verb="INSERT OR REPLACE")

    def add_improver_run(self, record: ImproverRunRecord, calls: Sequence[UtilityCallRecord] = ()) -> None:
        """One improver run and the utility calls it made, in one transaction (a repeat is ignored)."""
        kind, t, label = record.context.kind, record.context.t, record.context.label
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO improver_runs (context_kind, context_t, context_label, improver_sha, task, "
                "test_index, input_sha, output_sha, status, error, utility_val, utility_test, lm_calls, "
                "utility_calls, wall_seconds, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    kind,
                    t,
                    label,
                    record.improver_sha,
                    record.task,
                    record.test_index,
                    record.input_sha,
                    record.output_sha,
                    record.status,
                    record.error,
                    record.utility_val,
                    record.utility_test,
                    record.lm_calls,
                    record.utility_calls,
                    record.wall_seconds,
                    time.time(),
                ),
            )
            self._insert_calls(db, calls)

    def add_utility_calls(self, calls: Sequence[UtilityCallRecord]) -> None:
        """Utility calls of a run that is not a meta-utility test (the self-improvement step's)."""
        with self._transaction() as db:
            self._insert_calls(db, calls)

    @staticmethod
    def _insert_calls(db: sqlite3.Connection, calls: Sequence[UtilityCallRecord]) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO utility_calls (context_kind, context_t, context_label, improver_sha, task, "
            "test_index, seq, program_sha, value, created, lm_calls, lm_responses) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    c.context.kind,
                    c.context.t,
                    c.context.label,
                    c.improver_sha,
                    c.task,
                    c.test_index,
                    c.seq,
                    c.program_sha,
                    c.value,
                    time.time(),
                    c.lm_calls,
                    c.lm_responses,
                )
                for c in calls
            ],
        )

    def add_meta_utility(self, record: MetaUtilityRecord) -> None:
        context = record.context
        self._insert(
            "meta_utilities",
            {
                "context_kind": context.kind,
                "context_t": context.t,
                "context_label": context.label,
                "improver_sha": record.improver_sha,
                "task": record.task,
                "value_val": record.value_val,
                "value_test": record.value_test,
                "stderr_val": record.stderr_val,
                "stderr_test": record.stderr_test,
                "tests": record.tests,
                "created": time.time(),
            },
            verb="INSERT OR IGNORE",
        )

    def add_lm_call(self, call: LmCallRecord) -> None:
        self._insert(
            "lm_calls",
            {
                "iteration": call.iteration,
                "purpose": call.purpose,
                "model": call.model,
                "n": call.n,
                "temperature": call.temperature,
                "tokens_in": call.tokens_in,
                "tokens_out": call.tokens_out,
                "latency_s": call.latency_s,
                "cost_usd": call.cost_usd,
                "cached": int(call.cached),
                "error": call.error,
                "created": time.time(),
            },
        )

    def add_event(
        self, kind: str, detail: str, *, program_sha: str | None = None, iteration: int | None = None
    ) -> None:
        self._insert(
            "events",
            {
                "iteration": iteration,
                "kind": kind,
                "program_sha": program_sha,
                "detail": detail[:4000],
                "created": time.time(),
            },
        )

    def put_transfer(self, record: TransferCell) -> None:
        """One transfer cell; a repeated transfer replaces the cell it recomputed."""
        self._insert(
            "transfers",
            {
                "label": record.label,
                "improver_sha": record.improver_sha,
                "task": record.task,
                "mean": record.mean,
                "stderr": record.stderr,
                "tests": record.tests,
                "created": time.time(),
            },
            verb="INSERT OR REPLACE",
        )
