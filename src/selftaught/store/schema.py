"""The run store's tables, and the migration of stores written by earlier versions.

Schema 2 (this version): contexts are columns (`context_kind`, `context_t`, `context_label`) instead of
"t=3" strings, evaluations keep an OpenEvolve evaluator's metrics and artifacts, and `utility_calls` keeps
every utility call of an improver run in order. Schema 3 adds, per utility call, the LM calls and responses
the same improver run had spent when it made the call (score-vs-budget plots); rows of older stores read
as unknown (NULL). Schema 1 and 2 stores (selftaught 0.1.0) are migrated when a
writer opens them (`--resume`), and migrated in a private in-memory copy when a reader opens them
(`report`, `runs`, `safety audit`), so reading never changes a file.
"""

from __future__ import annotations

import sqlite3

from selftaught.store.records import Context

SCHEMA_VERSION = 3

_CONTEXT = "context_kind TEXT NOT NULL, context_t INTEGER, context_label TEXT NOT NULL DEFAULT ''"
_CONTEXT_KEY = "context_kind, IFNULL(context_t, -1), context_label"

_IMPROVER_RUNS = f"""
CREATE TABLE IF NOT EXISTS improver_runs (
    id INTEGER PRIMARY KEY, {_CONTEXT}, improver_sha TEXT NOT NULL, task TEXT NOT NULL,
    test_index INTEGER NOT NULL, input_sha TEXT NOT NULL, output_sha TEXT, status TEXT NOT NULL,
    error TEXT, utility_val REAL, utility_test REAL, lm_calls INTEGER NOT NULL, utility_calls INTEGER NOT NULL,
    wall_seconds REAL NOT NULL, created REAL NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS improver_runs_key
    ON improver_runs ({_CONTEXT_KEY}, improver_sha, task, test_index);
"""
_META_UTILITIES = f"""
CREATE TABLE IF NOT EXISTS meta_utilities (
    id INTEGER PRIMARY KEY, {_CONTEXT}, improver_sha TEXT NOT NULL, task TEXT NOT NULL,
    value_val REAL NOT NULL, value_test REAL NOT NULL, stderr_val REAL NOT NULL, stderr_test REAL NOT NULL,
    tests INTEGER NOT NULL, created REAL NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS meta_utilities_key ON meta_utilities ({_CONTEXT_KEY}, improver_sha, task);
"""

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS programs (
    sha TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY, program_sha TEXT NOT NULL, task TEXT NOT NULL, split TEXT NOT NULL,
    seed INTEGER NOT NULL, utility REAL NOT NULL, instances INTEGER NOT NULL, failures INTEGER NOT NULL,
    setup_error TEXT, wall_seconds REAL NOT NULL, created REAL NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}', artifacts TEXT NOT NULL DEFAULT '{}',
    UNIQUE (program_sha, task, split, seed));
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
    + f"""
CREATE TABLE IF NOT EXISTS utility_calls (
    id INTEGER PRIMARY KEY, {_CONTEXT}, improver_sha TEXT NOT NULL, task TEXT NOT NULL,
    test_index INTEGER NOT NULL, seq INTEGER NOT NULL, program_sha TEXT, value REAL NOT NULL,
    created REAL NOT NULL, lm_calls INTEGER, lm_responses INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS utility_calls_key
    ON utility_calls ({_CONTEXT_KEY}, improver_sha, task, test_index, seq);
"""
    + _IMPROVER_RUNS
    + _META_UTILITIES
)

REQUIRED_TABLES = ("meta", "iterations")


def tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def stored_version(db: sqlite3.Connection) -> int:
    """The schema version written in the store (1 when the key is missing: the first version)."""
    if "meta" not in tables(db):
        return SCHEMA_VERSION
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row is not None else 1


def migrate(db: sqlite3.Connection) -> None:
    """Bring a store to `SCHEMA_VERSION` inside one transaction (nothing half-done survives a kill)."""
    version = stored_version(db)
    if version > SCHEMA_VERSION:
        raise ValueError(f"store schema {version} is newer than this selftaught ({SCHEMA_VERSION}); upgrade")
    db.execute("BEGIN IMMEDIATE")
    try:
        if version < 2:
            _v1_to_v2(db)
        if version < 3:
            _v2_to_v3(db)
        run_script(db, SCHEMA)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Execute `;`-separated statements one by one (`executescript` would commit an open transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1_to_v2(db: sqlite3.Connection) -> None:
    present = tables(db)
    for table in ("improver_runs", "meta_utilities"):
        if table in present:
            _contexts_to_columns(db, table)
    if "evaluations" in present:
        columns = {row[1] for row in db.execute("PRAGMA table_info(evaluations)")}
        for column in ("metrics", "artifacts"):
            if column not in columns:
                db.execute(f"ALTER TABLE evaluations ADD COLUMN {column} TEXT NOT NULL DEFAULT '{{}}'")
    if "meta" in present:
        db.execute("UPDATE meta SET value = '\"completed\"' WHERE key = 'status' AND value = '\"done\"'")


def _v2_to_v3(db: sqlite3.Connection) -> None:
    """Utility calls gain the LM calls/responses spent at the call; old rows keep NULL (not known)."""
    if "utility_calls" not in tables(db):
        return  # created with the new columns by SCHEMA
    columns = {row[1] for row in db.execute("PRAGMA table_info(utility_calls)")}
    for column in ("lm_calls", "lm_responses"):
        if column not in columns:
            db.execute(f"ALTER TABLE utility_calls ADD COLUMN {column} INTEGER")


def _contexts_to_columns(db: sqlite3.Connection, table: str) -> None:
    """Rebuild `table` with context columns, parsing each old "t=3" / "iteration t=3" / ... once."""
    db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
    run_script(db, _IMPROVER_RUNS if table == "improver_runs" else _META_UTILITIES)
    cursor = db.execute(f"SELECT * FROM {table}_v1 ORDER BY id")
    names = [column[0] for column in cursor.description]
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        context = Context.from_legacy(str(row.pop("context")))
        row.update(context_kind=context.kind, context_t=context.t, context_label=context.label)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        db.execute(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))
    db.execute(f"DROP TABLE {table}_v1")
