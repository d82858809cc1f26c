"""Loading run stores into summaries: numbers as stored, groups, exports, and clear errors."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import statistics
from pathlib import Path

import pytest
from report_fixtures import make_run

from selftaught.errors import UsageError
from selftaught.report import load_report, load_run_summary
from selftaught.report.export import CSV_COLUMNS, to_csv_text, to_json_text
from selftaught.report.load import context_iteration
from selftaught.report.model import GroupSummary, RunSummary
from selftaught.store import Context, RunStore


def test_summary_numbers_equal_the_store(run_dir: Path) -> None:
    summary = load_run_summary(run_dir)
    db = sqlite3.connect(run_dir / "run.sqlite")
    rows = db.execute(
        "SELECT t, status, meta_utility_val, meta_utility_test, stderr_val, lm_calls FROM iterations "
        "ORDER BY t"
    ).fetchall()
    assert [
        (it.t, it.status, it.meta_utility_val, it.meta_utility_test, it.stderr_val, it.lm_calls)
        for it in summary.iterations
    ] == rows
    assert summary.task == "str_grid_dist" and summary.model == "offline:0" and summary.status == "completed"
    assert summary.planned_iterations == 2 and summary.warnings == ()
    assert summary.best is not None and summary.best.t == 1
    # candidates: 3 per step at t>=1 plus the "iteration t=T" estimates; selected marks the iteration's improver
    assert sum(1 for c in summary.candidates if c.context.startswith("t=")) == 6
    assert all(c.selected for c in summary.candidates if c.context.startswith("iteration"))
    # LM usage counts fresh calls and cached replays apart
    fresh = db.execute("SELECT COUNT(*), SUM(tokens_in) FROM lm_calls WHERE cached = 0").fetchone()
    assert summary.totals()["lm_calls"] == fresh[0] and summary.totals()["tokens_in"] == fresh[1]
    assert sum(u.cached for u in summary.lm_usage) == 3
    assert [(r.runs, r.failed) for r in summary.improver_runs] == [(2, 1)] * 3
    assert {e.category for e in summary.events} == {"budget", "safety", "fallback"}
    assert len(summary.transfers) == 6
    # lineage: sources and parents from the programs table, strategies detected
    assert summary.improvers[0].parent_source is None
    assert summary.improvers[1].parent_source == summary.improvers[0].source
    assert [hit.strategy for hit in summary.improvers[1].strategies] == ["beam search"]
    json.dumps(summary.to_dict())


def test_loading_never_writes_to_the_store(run_dir: Path) -> None:
    store_file = run_dir / "run.sqlite"
    before = store_file.read_bytes()
    load_run_summary(run_dir)
    assert store_file.read_bytes() == before


def test_a_run_in_progress_shows_what_exists(runs_dir: Path) -> None:
    run_dir = make_run(runs_dir, "live", status="running", values=(0.4,), iterations=3)
    summary = load_run_summary(run_dir)
    assert summary.in_progress and len(summary.iterations) == 1
    assert any("in progress: 0 of 3 self-improvement steps" in warning for warning in summary.warnings)


def test_a_run_killed_before_its_first_iteration(runs_dir: Path) -> None:
    store = RunStore(runs_dir / "early" / "run.sqlite")
    store.update_meta(status="running")
    store.close()
    summary = load_run_summary(runs_dir / "early")
    assert summary.iterations == () and summary.task == "?"
    assert any("no configuration stored" in warning for warning in summary.warnings)


@pytest.mark.parametrize("damage", ["empty", "garbage", "no-tables", "no-store"])
def test_half_written_or_missing_runs_give_a_clear_error(runs_dir: Path, damage: str) -> None:
    run_dir = runs_dir / "broken"
    run_dir.mkdir()
    store = run_dir / "run.sqlite"
    if damage == "garbage":
        store.write_bytes(b"this is not sqlite" * 100)
    elif damage == "no-tables":
        sqlite3.connect(store).execute("CREATE TABLE other (x)").connection.close()
    elif damage == "empty":
        store.write_bytes(b"")
    with pytest.raises(UsageError) as caught:
        load_report("broken", runs_dir)
    message = str(caught.value)
    assert "\n" not in message
    assert {
        "empty": "half-written",
        "garbage": "not a readable run store",
        "no-tables": "half-written",
        "no-store": "has no run.sqlite",
    }[damage] in message


def test_unknown_ids_are_a_usage_error(runs_dir: Path) -> None:
    with pytest.raises(UsageError, match="no run or group 'nothing'"):
        load_report("nothing", runs_dir)
    with pytest.raises(UsageError, match="invalid run id"):
        load_report("..", runs_dir)


def test_a_group_id_aggregates_its_runs(runs_dir: Path) -> None:
    make_run(runs_dir, "r0", group="group-x", seed=0, values=(0.40, 0.55, 0.55))
    make_run(runs_dir, "r1", group="group-x", seed=1, values=(0.40, 0.65, 0.70))
    make_run(runs_dir, "r2", group="group-x", seed=2, values=(0.40,), status="running")
    make_run(runs_dir, "other", group="group-y", seed=0)
    group = load_report("group-x", runs_dir)
    assert isinstance(group, GroupSummary)
    assert [run.run_id for run in group.runs] == ["r0", "r1", "r2"]
    assert [p.runs for p in group.points] == [3, 2, 2]
    t1 = [0.55 + 0.00, 0.65 + 0.01]
    point = group.points[1]
    assert math.isclose(point.mean_val, statistics.fmean(t1))
    assert math.isclose(point.stderr_val, statistics.stdev(t1) / math.sqrt(2))
    # both improved improvers are the same program: counted once
    assert group.strategy_counts["beam search"] == 1
    assert group.strategy_counts["genetic algorithm"] == 0


def test_a_path_to_a_run_directory_works(run_dir: Path) -> None:
    summary = load_report(str(run_dir), "elsewhere")
    assert isinstance(summary, RunSummary) and summary.run_id == run_dir.name


def test_json_and_csv_exports_carry_the_stored_numbers(runs_dir: Path) -> None:
    make_run(runs_dir, "r0", group="g", seed=0)
    make_run(runs_dir, "r1", group="g", seed=1)
    group = load_report("g", runs_dir)
    run = load_report("r0", runs_dir)
    data = json.loads(to_json_text([run]))
    assert [it["meta_utility_val"] for it in data["iterations"]] == [
        it.meta_utility_val for it in run.iterations
    ]
    assert data["best_t"] == 1 and data["totals"]["lm_calls"] == 6
    rows = list(csv.DictReader(io.StringIO(to_csv_text([group]))))
    assert tuple(rows[0]) == CSV_COLUMNS
    run_rows = [row for row in rows if row["row"] == "run"]
    mean_rows = [row for row in rows if row["row"] == "mean"]
    assert len(run_rows) == 6 and len(mean_rows) == 3
    stored = {(r.run_id, it.t): it.meta_utility_val for r in group.runs for it in r.iterations}
    for row in run_rows:
        assert float(row["meta_utility_val"]) == stored[(row["run_id"], int(row["t"]))]
    assert [float(row["meta_utility_val"]) for row in mean_rows] == [p.mean_val for p in group.points]
    both = json.loads(to_json_text([run, group]))
    assert isinstance(both, list) and both[1]["group"] == "g"


def test_helpers() -> None:
    assert context_iteration(Context.candidates(3)) == 3 and context_iteration(Context.iteration(12)) == 12
    assert (
        context_iteration(Context.transfer("t=1")) is None and context_iteration(Context.meta_eval()) is None
    )
    assert str(Context.candidates(3)) == "t=3" and str(Context.iteration(12)) == "iteration t=12"
