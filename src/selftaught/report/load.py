"""Read one run's store into a `RunSummary`, without ever writing to it.

Why a read-only connection of our own instead of `RunStore`: `RunStore` creates the schema and writes
`schema_version` when it opens a file, so opening a half-written or foreign file through it would
"repair" it; a report must be an observer. The store is in WAL mode, so reading while the run is still
writing is safe and shows every row committed so far. Whatever is missing (a run killed before its first
iteration, a program row absent) becomes a line in `RunSummary.warnings`, not an exception; only a path
that is not a run at all raises `UsageError`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selftaught.errors import UsageError
from selftaught.events import category as event_category
from selftaught.report.model import (
    Candidate,
    Event,
    Improver,
    ImproverRuns,
    Iteration,
    LmUsage,
    RunSummary,
    TransferCell,
)
from selftaught.report.strategies import detect_strategies

STORE_FILE = "run.sqlite"
_CONTEXT_T = re.compile(r"^(?:iteration )?t=(\d+)$")
_REQUIRED_TABLES = ("meta", "iterations")


def store_file(path: Path) -> Path:
    """The run.sqlite of a run directory (or the file itself); UsageError when there is none."""
    path = Path(path)
    candidate = path / STORE_FILE if path.is_dir() else path
    if not candidate.exists():
        if path.is_dir():
            raise UsageError(f"{path} has no {STORE_FILE}: the run was never started or its files were removed")
        raise UsageError(f"no run at {path}")
    return candidate


@contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA query_only=1")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"{path} is not a readable run store ({exc})") from None
    try:
        missing = [name for name in _REQUIRED_TABLES if name not in tables]
        if missing:
            raise UsageError(
                f"{path} is half-written: table(s) {', '.join(missing)} missing (the run was killed while "
                "creating its store; start it again)"
            )
        yield db
    finally:
        db.close()


def _rows(db: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
    try:
        return list(db.execute(sql, params))
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # an older or partial store: show what exists
            return []
        raise


def _meta(db: sqlite3.Connection) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for row in _rows(db, "SELECT key, value FROM meta"):
        try:
            meta[row["key"]] = json.loads(row["value"])
        except (TypeError, ValueError):
            meta[row["key"]] = row["value"]
    return meta


def context_iteration(context: str) -> int | None:
    """Iteration a meta-utility context belongs to: "t=3" and "iteration t=3" -> 3, others -> None."""
    match = _CONTEXT_T.match(context)
    return int(match.group(1)) if match else None


def load_run_summary(path: Path) -> RunSummary:
    """Read the run at `path` (a run directory or its run.sqlite) into plain data.

    Raises `UsageError` for a path that is not a run store; a run still in progress or cut short loads
    with what exists and a warning saying what is missing.
    """
    file = store_file(path)
    run_dir = file.parent
    with _read_only(file) as db:
        meta = _meta(db)
        iterations = tuple(
            Iteration.from_row(row)
            for row in _rows(db, "SELECT * FROM iterations ORDER BY t")
        )
        selected = {(it.t, it.improver_sha) for it in iterations}
        candidates = tuple(
            Candidate(
                context=row["context"], t=context_iteration(row["context"]), improver_sha=row["improver_sha"],
                task=row["task"], value_val=row["value_val"], value_test=row["value_test"],
                stderr_val=row["stderr_val"], stderr_test=row["stderr_test"], tests=row["tests"],
                selected=(context_iteration(row["context"]), row["improver_sha"]) in selected,
            )
            for row in _rows(db, "SELECT * FROM meta_utilities ORDER BY id")
        )
        lm_usage = tuple(
            LmUsage(
                iteration=row["iteration"], calls=int(row["calls"]), responses=int(row["responses"]),
                tokens_in=int(row["tin"]), tokens_out=int(row["tout"]), cost_usd=float(row["cost"]),
                latency_s=float(row["latency"]), cached=int(row["cached"]), errors=int(row["errors"]),
            )
            for row in _rows(
                db,
                "SELECT iteration, SUM(cached = 0) AS calls, SUM(CASE WHEN cached = 0 THEN n ELSE 0 END) AS responses, "
                "SUM(CASE WHEN cached = 0 THEN tokens_in ELSE 0 END) AS tin, "
                "SUM(CASE WHEN cached = 0 THEN tokens_out ELSE 0 END) AS tout, "
                "SUM(CASE WHEN cached = 0 THEN cost_usd ELSE 0 END) AS cost, "
                "SUM(CASE WHEN cached = 0 THEN latency_s ELSE 0 END) AS latency, "
                "SUM(cached != 0) AS cached, SUM(error IS NOT NULL) AS errors "
                "FROM lm_calls GROUP BY iteration ORDER BY iteration IS NULL, iteration",
            )
        )
        improver_runs = _improver_runs(db)
        events = tuple(
            Event(iteration=row["iteration"], kind=row["kind"], category=event_category(row["kind"]),
                  detail=row["detail"], program_sha=row["program_sha"], created=row["created"])
            for row in _rows(db, "SELECT * FROM events ORDER BY id")
        )
        transfers = tuple(
            TransferCell(label=row["label"], task=row["task"], mean=row["mean"], stderr=row["stderr"],
                         tests=row["tests"])
            for row in _rows(db, "SELECT * FROM transfers ORDER BY id")
        )
        wanted = sorted({it.improver_sha for it in iterations} | {it.parent_sha for it in iterations if it.parent_sha})
        sources = {row["sha"]: row["source"] for row in _rows(
            db, f"SELECT sha, source FROM programs WHERE sha IN ({', '.join('?' for _ in wanted)})", tuple(wanted))}
        improvers = tuple(_improver(it, sources, run_dir) for it in iterations)
    stored_config = meta.get("config")
    config: dict[str, Any] = stored_config if isinstance(stored_config, dict) else {}
    planned = config.get("iterations") if isinstance(config.get("iterations"), int) else None
    status = str(meta.get("status", "unknown"))
    summary = RunSummary(
        run_id=run_dir.name, path=run_dir, task=str(meta.get("task", config.get("task", "?"))),
        model=str(meta.get("model", config.get("model", "?"))), status=status,
        started=_number(meta.get("started")), finished=_number(meta.get("finished")),
        version=_text(meta.get("version")), command=_text(meta.get("command")), group=_text(meta.get("group")),
        seed=meta.get("seed") if isinstance(meta.get("seed"), int) else None, planned_iterations=planned,
        config=config, iterations=iterations, candidates=candidates, lm_usage=lm_usage,
        improver_runs=improver_runs, events=events, transfers=transfers, improvers=improvers,
        stop_reason=_text(meta.get("stop_reason")),
    )
    return _with_warnings(summary, meta)


def _improver_runs(db: sqlite3.Connection) -> tuple[ImproverRuns, ...]:
    grouped: dict[int | None, list[sqlite3.Row]] = {}
    for row in _rows(db, "SELECT context, status, wall_seconds FROM improver_runs ORDER BY id"):
        grouped.setdefault(context_iteration(row["context"]), []).append(row)
    return tuple(
        ImproverRuns(iteration=t, runs=len(rows), failed=sum(row["status"] != "ok" for row in rows),
                     wall_seconds=sum(row["wall_seconds"] for row in rows))
        for t, rows in sorted(grouped.items(), key=lambda item: (item[0] is None, item[0] or 0))
    )


def _improver(it: Iteration, sources: dict[str, str], run_dir: Path) -> Improver:
    source = sources.get(it.improver_sha)
    if source is None:  # the store lost the row: fall back to the readable copy if it exists
        copy = run_dir / "improvers" / f"t{it.t}_{it.improver_sha[:8]}.py"
        source = copy.read_text(encoding="utf-8") if copy.is_file() else None
    parent = sources.get(it.parent_sha) if it.parent_sha else None
    strategies = tuple(detect_strategies(source)) if source is not None else ()
    return Improver(t=it.t, sha=it.improver_sha, parent_sha=it.parent_sha, status=it.status, source=source,
                    parent_source=parent, strategies=strategies)


def _with_warnings(summary: RunSummary, meta: dict[str, Any]) -> RunSummary:
    warnings: list[str] = []
    done = len(summary.iterations)
    expected = None if summary.planned_iterations is None else summary.planned_iterations + 1
    if summary.status == "running":
        progress = f"{done} of {expected}" if expected is not None else str(done)
        warnings.append(
            f"run in progress: {progress} iterations (t=0..T) finished so far; this report shows what exists "
            f"(if no process is writing it any more, it was killed: `selftaught run --resume {summary.run_id}`)"
        )
    elif summary.status == "stopped":
        warnings.append(f"run stopped early after {done} iteration(s): {summary.stop_reason or 'no reason stored'}; "
                        f"resume with `selftaught run --resume {summary.run_id}`")
    elif summary.status in ("failed", "interrupted"):
        warnings.append(f"run {summary.status} after {done} iteration(s); resume with "
                        f"`selftaught run --resume {summary.run_id}`")
    elif summary.status == "completed" and expected is not None and done < expected:
        warnings.append(f"run marked completed but only {done} of {expected} iterations are stored")
    if "config" not in meta:
        warnings.append("no configuration stored: the run was killed while writing its metadata")
    if not summary.iterations and summary.status != "running":
        warnings.append("no iteration finished: not even the seed improver's meta-utility is stored")
    missing = [imp.t for imp in summary.improvers if imp.source is None]
    if missing:
        warnings.append(f"improver source missing for t={', '.join(map(str, missing))}")
    return RunSummary(**{**summary.__dict__, "warnings": tuple(warnings)})


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def read_meta(path: Path) -> dict[str, Any]:
    """Just the meta table of a run store (for finding a group's runs without loading everything)."""
    with _read_only(store_file(path)) as db:
        return _meta(db)
