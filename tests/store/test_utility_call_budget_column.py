"""Schema 3: utility calls carry the LM budget spent; schema-2 stores still open (read and resume)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from selftaught.store import Context, RunMeta, RunReader, RunStore, UtilityCallRecord
from selftaught.store.schema import SCHEMA_VERSION


def _schema2_store(path: Path) -> list[UtilityCallRecord]:
    """A store exactly as schema 2 left it: `utility_calls` without the budget columns, version 2."""
    store = RunStore(path)
    store.write_meta(RunMeta(task="maxcut", model="offline:0"))
    calls = [
        UtilityCallRecord(Context.iteration(0), "b" * 64, "maxcut", 0, seq, "d" * 64, value)
        for seq, value in enumerate((0.2, 0.5))
    ]
    store.add_utility_calls(calls)
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE utility_calls DROP COLUMN lm_calls")
        db.execute("ALTER TABLE utility_calls DROP COLUMN lm_responses")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    return calls


def test_budget_spent_round_trips(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    calls = [
        UtilityCallRecord(Context.step(1), "a" * 64, "maxcut", 0, seq, None, 0.1 * seq, seq, 4 * seq)
        for seq in range(3)
    ]
    store.add_utility_calls(calls)
    store.add_utility_calls(calls)  # a repeat (resume) is ignored
    store.close()
    with RunReader.open(tmp_path / "run.sqlite") as reader:
        assert reader.utility_calls() == calls


def test_a_schema2_store_reads_unknown_budget_and_is_not_changed(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    calls = _schema2_store(path)
    before = path.read_bytes()
    with RunReader.open(path) as reader:
        assert reader.utility_calls() == calls and all(c.lm_calls is None for c in reader.utility_calls())
    assert path.read_bytes() == before


def test_a_writer_migrates_a_schema2_store_and_extends_it(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    old = _schema2_store(path)
    store = RunStore.open_existing(path)
    new = UtilityCallRecord(Context.iteration(1), "c" * 64, "maxcut", 0, 0, None, 0.7, 3, 6)
    store.add_utility_calls([new])
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION
        )
    with RunReader.open(path) as reader:
        assert reader.utility_calls() == [*old, new]
