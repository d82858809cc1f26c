"""The run store: typed records in and out, read-only readers, and stores written by schema 1."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selftaught.errors import UsageError
from selftaught.report import load_run_summary
from selftaught.stop.runs import list_runs
from selftaught.store import (
    Context,
    EvaluationRecord,
    ImproverRunRecord,
    MetaUtilityRecord,
    RunMeta,
    RunReader,
    RunStore,
    UtilityCallRecord,
)
from selftaught.store.schema import SCHEMA_VERSION

FIXTURE = Path(__file__).parent / "fixtures" / "v1_run"
OLD_RUN_ID = "20261127-141437-str_grid_dist-s0-2734"


@pytest.fixture
def old_runs(tmp_path: Path) -> Path:
    """A runs directory holding a copy of the schema-1 run (tests never touch the fixture itself)."""
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURE, runs / OLD_RUN_ID)
    return runs


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files(run_dir: Path) -> set[str]:
    return {p.name for p in run_dir.iterdir()}


def test_readers_never_write_to_an_old_store(old_runs: Path) -> None:
    run_dir = old_runs / OLD_RUN_ID
    before, names = digest(run_dir / "run.sqlite"), files(run_dir)
    [listing] = list_runs(old_runs)
    summary = load_run_summary(run_dir)
    assert digest(run_dir / "run.sqlite") == before and files(run_dir) == names
    assert (
        listing.status == "completed"
        and listing.listing_json()["iterations"] == 1
        and listing.task == "str_grid_dist"
    )
    assert [it.status for it in summary.iterations] == ["seed", "improved"]
    # contexts written as text by schema 1 come back typed, and print as they always did
    assert [(c.context, c.t) for c in summary.candidates] == [
        ("iteration t=0", 0),
        ("t=1", 1),
        ("t=1", 1),
        ("iteration t=1", 1),
    ]
    assert [(r.iteration, r.runs) for r in summary.improver_runs] == [(0, 2), (1, 6)]
    # the failed improver is a candidate that was never adopted: part of a normal search
    adopted = {it.improver_sha for it in summary.iterations}
    assert all(e.program_sha not in adopted for e in summary.events)
    assert {e.kind: e.category for e in summary.events} == {"improver-failed": "expected"}


def test_listing_and_reporting_a_live_wal_store_writes_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    store = RunStore(runs / "r1" / "run.sqlite")  # WAL mode, left open as a running run's would be
    store.write_meta(RunMeta(task="maxcut", model="offline:0", config={"iterations": 1}))
    # the database and its write-ahead log; -shm is SQLite's shared index, where readers take read locks
    data = ("run.sqlite", "run.sqlite-wal")
    before = {name: digest(runs / "r1" / name) for name in data}
    [listing] = list_runs(runs)
    summary = load_run_summary(runs / "r1")
    assert listing.status == "running" and summary.status == "running"
    assert {name: digest(runs / "r1" / name) for name in data} == before
    store.close()


def test_a_writer_migrates_an_old_store_in_place(old_runs: Path) -> None:
    path = old_runs / OLD_RUN_ID / "run.sqlite"
    with RunReader.open(path) as reader:
        expected = (reader.iterations(), reader.improver_runs(), reader.meta_utilities(), reader.meta())
    store = RunStore.open_existing(path)
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION
        )
        columns = {row[1] for row in db.execute("PRAGMA table_info(improver_runs)")}
    assert {"context_kind", "context_t", "context_label"} <= columns and "context" not in columns
    with RunReader.open(path) as reader:  # the migration in place reads exactly like the in-memory one
        assert (
            reader.iterations(),
            reader.improver_runs(),
            reader.meta_utilities(),
            reader.meta(),
        ) == expected
        assert reader.get_evaluation("nope", "str_grid_dist", "val", 1) is None


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    RunStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(UsageError, match="newer"):
        RunStore(path)


def test_records_round_trip(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run.sqlite")
    store.write_meta(RunMeta(task="maxcut", model="offline:0", test_seed=5, config={"tests": 2}))
    assert store.update_meta(status="completed").status == "completed"
    with pytest.raises(TypeError):
        store.update_meta(colour="red")
    evaluation = EvaluationRecord(0.5, 1, 0, None, 0.1, {"score": 0.5}, {"log": "ok"})
    store.put_evaluation("a" * 64, "oe", "val", 1, evaluation)
    run = ImproverRunRecord(
        Context.meta_eval(), "b" * 64, "maxcut", 0, "c" * 64, None, "timeout", 0.0, 0.0, 1, 2, 3.0
    )
    calls = [
        UtilityCallRecord(Context.meta_eval(), "b" * 64, "maxcut", 0, seq, "d" * 64, value)
        for seq, value in enumerate((0.1, 0.4))
    ]
    store.add_improver_run(run, calls)
    store.add_improver_run(run, calls)  # a repeat (resume) is ignored, even with a NULL iteration
    estimate = MetaUtilityRecord(Context.transfer("t=1"), "b" * 64, "maxcut", 0.3, 0.2, 0.01, 0.02, 2)
    store.add_meta_utility(estimate)
    store.add_meta_utility(estimate)
    store.close()
    with RunReader.open(tmp_path / "run.sqlite") as reader:
        assert reader.meta().task == "maxcut" and reader.meta().status == "completed"
        assert reader.get_evaluation("a" * 64, "oe", "val", 1) == evaluation
        assert reader.improver_runs() == [run] and run.status == "failed"
        assert reader.improver_run(Context.meta_eval(), "b" * 64, "maxcut", 0) == run
        assert reader.improver_run(Context.candidates(0), "b" * 64, "maxcut", 0) is None
        assert reader.utility_calls() == calls
        assert reader.meta_utilities() == [estimate]


def test_old_status_word_reads_as_the_one_vocabulary() -> None:
    assert RunMeta.from_values({"status": "done", "stranger": 1}).status == "completed"


contexts = st.one_of(
    st.integers(0, 10**6).map(Context.candidates),
    st.integers(0, 10**6).map(Context.iteration),
    st.just(Context.meta_eval()),
    st.text(min_size=1, max_size=40).map(Context.transfer),
)


@given(contexts)
def test_legacy_text_parses_back_to_the_context(context: Context) -> None:
    assert Context.from_legacy(str(context)) == context


@pytest.mark.slow  # resumes a run: real sandbox jobs
def test_a_run_scored_under_another_scoring_version_is_not_resumed(old_runs: Path) -> None:
    import selftaught
    from selftaught.errors import UsageError

    with pytest.raises(UsageError, match=r"scoring version 1 .* mix old and new scores"):
        selftaught.self_improve(resume=OLD_RUN_ID, extend_to=2, runs_dir=old_runs)
    with pytest.raises(UsageError, match=r"scoring version 1 .* mix old and new scores"):
        selftaught.transfer(OLD_RUN_ID, runs_dir=old_runs)
    with RunReader.open(old_runs / OLD_RUN_ID / "run.sqlite") as reader:
        assert len(reader.iterations()) == 2  # untouched


@pytest.mark.slow  # real sandbox jobs
def test_an_old_run_resumes_without_redoing_finished_work(old_runs: Path) -> None:
    import sqlite3

    import selftaught
    from selftaught.tasks.evaluation import SCORING_VERSION

    # The schema-1 fixture predates scoring versions: declare it current to test the migration alone.
    with sqlite3.connect(old_runs / OLD_RUN_ID / "run.sqlite") as db:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('scoring_version', ?)", (str(SCORING_VERSION),))
    [result] = selftaught.self_improve(resume=OLD_RUN_ID, extend_to=2, runs_dir=old_runs)
    assert result.status == "completed" and [it.t for it in result.iterations] == [0, 1, 2]
    with RunReader.open(old_runs / OLD_RUN_ID / "run.sqlite") as reader:
        runs = reader.improver_runs()
        assert sum(r.context == Context.iteration(0) for r in runs) == 2  # not run again
        assert any(r.context == Context.iteration(2) for r in runs)
        assert reader.meta().status == "completed" and reader.meta().config is not None
        assert reader.meta().config["iterations"] == 2
