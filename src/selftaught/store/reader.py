"""Reading a run store: typed records out, never a write.

Why a separate read-only open: reports, `selftaught runs` and `selftaught safety audit` are observers. A
writer creates the schema and migrates old stores, so opening a half-written or foreign file through it
would "repair" it, and listing a directory of runs would rewrite every store in it. `RunReader.open`
opens the file with SQLite's read-only mode; a store written by an earlier schema is migrated in a private
in-memory copy. The store is in WAL mode, so reading while the run is still writing is safe and shows
every row committed so far.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from selftaught.errors import UsageError
from selftaught.store import schema
from selftaught.store.records import (
    Context,
    EvaluationRecord,
    EventRecord,
    ImproverRunRecord,
    IterationRecord,
    IterationUsage,
    LmCallRecord,
    MetaUtilityRecord,
    RunMeta,
    TransferCell,
    UtilityCallRecord,
)

_CONTEXT_WHERE = "context_kind = ? AND IFNULL(context_t, -1) = ? AND context_label = ?"


def context_params(context: Context) -> tuple[Any, ...]:
    return (context.kind, -1 if context.t is None else context.t, context.label)


def _context(row: sqlite3.Row) -> Context:
    return Context(row["context_kind"], row["context_t"], row["context_label"])


class RunReader:
    """Typed reads of one run's SQLite file (thread-safe: one connection behind a lock)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self._db = db
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path) -> RunReader:
        """Open `path` read-only; `UsageError` when it is not a run store or was cut short at creation."""
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"no run store at {path}")
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
            db.execute("PRAGMA query_only=1")
            present = schema.tables(db)
            version = schema.stored_version(db) if "meta" in present else schema.SCHEMA_VERSION
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{path} is not a readable run store ({exc})") from None
        missing = [name for name in schema.REQUIRED_TABLES if name not in present]
        if missing:
            db.close()
            raise UsageError(
                f"{path} is half-written: table(s) {', '.join(missing)} missing (the run was killed while "
                "creating its store; start it again)"
            )
        if version < schema.SCHEMA_VERSION:
            db = _migrated_copy(db)
        return cls(db, path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RunReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return list(self._db.execute(sql, params))
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):  # a partial store: show what exists
                    return []
                raise

    # --- run metadata ------------------------------------------------------------------------------
    def meta_values(self) -> dict[str, Any]:
        """Every stored meta key (JSON-decoded), for reports that show the raw record."""
        values: dict[str, Any] = {}
        for row in self._rows("SELECT key, value FROM meta"):
            try:
                values[row["key"]] = json.loads(row["value"])
            except (TypeError, ValueError):
                values[row["key"]] = row["value"]
        return values

    def meta(self) -> RunMeta:
        return RunMeta.from_values(self.meta_values())

    # --- programs and evaluations ------------------------------------------------------------------
    def get_program(self, sha: str) -> str | None:
        rows = self._rows("SELECT source FROM programs WHERE sha = ?", (sha,))
        return rows[0]["source"] if rows else None

    def programs(self, shas: list[str]) -> dict[str, str]:
        """Sources of the given programs that exist (missing ones are simply absent)."""
        wanted = sorted(set(shas))
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)
        return {
            row["sha"]: row["source"]
            for row in self._rows(f"SELECT sha, source FROM programs WHERE sha IN ({marks})", tuple(wanted))
        }

    def get_evaluation(self, sha: str, task: str, split: str, seed: int) -> EvaluationRecord | None:
        rows = self._rows(
            "SELECT * FROM evaluations WHERE program_sha = ? AND task = ? AND split = ? AND seed = ?",
            (sha, task, split, seed),
        )
        if not rows:
            return None
        row = rows[0]
        return EvaluationRecord(
            row["utility"],
            row["instances"],
            row["failures"],
            row["setup_error"],
            row["wall_seconds"],
            json.loads(row["metrics"]),
            json.loads(row["artifacts"]),
        )

    # --- iterations ----------------------------------------------------------------------------------
    def iterations(self) -> list[IterationRecord]:
        names = IterationRecord.__dataclass_fields__
        return [
            IterationRecord(**{key: row[key] for key in names})
            for row in self._rows("SELECT * FROM iterations ORDER BY t")
        ]

    def iteration_usage(self, t: int) -> IterationUsage:
        row = self._rows(
            "SELECT COUNT(*) AS calls, COALESCE(SUM(tokens_in), 0) AS tin, COALESCE(SUM(tokens_out), 0) AS tout, "
            "COALESCE(SUM(cost_usd), 0) AS cost FROM lm_calls WHERE iteration = ? AND cached = 0",
            (t,),
        )[0]
        return IterationUsage(int(row["calls"]), int(row["tin"]), int(row["tout"]), float(row["cost"]))

    # --- improver runs and meta-utilities ------------------------------------------------------------
    def improver_run(
        self, context: Context, improver_sha: str, task: str, index: int
    ) -> ImproverRunRecord | None:
        rows = self._rows(
            f"SELECT * FROM improver_runs WHERE {_CONTEXT_WHERE} AND improver_sha = ? AND task = ? AND test_index = ?",
            (*context_params(context), improver_sha, task, index),
        )
        return _improver_run(rows[0]) if rows else None

    def improver_runs(self) -> list[ImproverRunRecord]:
        return [_improver_run(row) for row in self._rows("SELECT * FROM improver_runs ORDER BY id")]

    def utility_calls(self) -> list[UtilityCallRecord]:
        return [
            UtilityCallRecord(
                _context(row),
                row["improver_sha"],
                row["task"],
                row["test_index"],
                row["seq"],
                row["program_sha"],
                row["value"],
                row["lm_calls"],
                row["lm_responses"],
            )
            for row in self._rows("SELECT * FROM utility_calls ORDER BY id")
        ]

    def meta_utilities(self) -> list[MetaUtilityRecord]:
        return [
            MetaUtilityRecord(
                _context(row),
                row["improver_sha"],
                row["task"],
                row["value_val"],
                row["value_test"],
                row["stderr_val"],
                row["stderr_test"],
                row["tests"],
            )
            for row in self._rows("SELECT * FROM meta_utilities ORDER BY id")
        ]

    # --- LM calls, events, transfers -----------------------------------------------------------------
    def lm_calls(self) -> list[LmCallRecord]:
        return [
            LmCallRecord(
                row["iteration"],
                row["purpose"],
                row["model"],
                row["n"],
                row["temperature"],
                row["tokens_in"],
                row["tokens_out"],
                row["latency_s"],
                row["cost_usd"],
                bool(row["cached"]),
                row["error"],
            )
            for row in self._rows("SELECT * FROM lm_calls ORDER BY id")
        ]

    def events(self) -> list[EventRecord]:
        return [
            EventRecord(
                row["id"], row["iteration"], row["kind"], row["program_sha"], row["detail"], row["created"]
            )
            for row in self._rows(
                "SELECT id, iteration, kind, program_sha, detail, created FROM events ORDER BY id"
            )
        ]

    def transfers(self) -> list[TransferCell]:
        return [
            TransferCell(
                row["label"],
                row["task"],
                row["mean"],
                row["stderr"],
                row["tests"],
                improver_sha=row["improver_sha"],
            )
            for row in self._rows("SELECT * FROM transfers ORDER BY id")
        ]


def _improver_run(row: sqlite3.Row) -> ImproverRunRecord:
    return ImproverRunRecord(
        context=_context(row),
        improver_sha=row["improver_sha"],
        task=row["task"],
        test_index=row["test_index"],
        input_sha=row["input_sha"],
        output_sha=row["output_sha"],
        error=row["error"],
        utility_val=row["utility_val"] or 0.0,
        utility_test=row["utility_test"] or 0.0,
        lm_calls=row["lm_calls"],
        utility_calls=row["utility_calls"],
        wall_seconds=row["wall_seconds"],
    )


def _migrated_copy(db: sqlite3.Connection) -> sqlite3.Connection:
    """An in-memory copy of an old store, migrated: the reader sees the current schema, the file is untouched."""
    memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    db.backup(memory)
    db.close()
    schema.migrate(memory)
    return memory
