"""`run --seeds`'s group JSON and the report's group page give the same numbers for the same stored runs.

They once disagreed (the CLI averaged only the iterations every run reached; the report every iteration
with a run count); both now call `estimates.aggregate_iterations`. The runs here are real SQLite stores
written through `RunStore`, of different depths (one stopped early), read back the way each side reads
them: the CLI from the loop's stored iterations (`RunReader.iterations`), the report through `load_report`.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from report_fixtures import make_run

from selftaught.cli.stop import _group_json
from selftaught.report import GroupSummary, load_report
from selftaught.stop.runs import RunResult
from selftaught.store import RunReader


def _run_result(run_dir: Path) -> RunResult:
    with RunReader.open(run_dir / "run.sqlite") as reader:
        meta, iterations = reader.meta(), reader.iterations()
    return RunResult(run_dir.name, run_dir, meta.task, meta.model, meta.status, iterations)


def test_cli_group_json_and_report_group_agree_on_runs_of_different_depths(runs_dir: Path) -> None:
    dirs = [
        make_run(runs_dir, "r0", group="g", seed=0, values=(0.40, 0.55, 0.60, 0.62), iterations=3),
        make_run(runs_dir, "r1", group="g", seed=1, values=(0.30, 0.65, 0.70, 0.80), iterations=3),
        make_run(runs_dir, "r2", group="g", seed=2, values=(0.45, 0.50), iterations=3, status="stopped"),
    ]
    cli_rows = _group_json([_run_result(path) for path in dirs])["iterations"]
    group = load_report("g", runs_dir)
    assert isinstance(group, GroupSummary)

    # every iteration any run reached, with the number of runs behind it (not cut at the shortest run)
    assert [row["t"] for row in cli_rows] == [p.t for p in group.points] == [0, 1, 2, 3]
    assert [row["runs"] for row in cli_rows] == [p.runs for p in group.points] == [3, 3, 2, 2]
    for row, point in zip(cli_rows, group.points, strict=True):
        assert row["meta_utility_val"] == point.mean_val and row["stderr_val"] == point.stderr_val
        assert row["meta_utility_test"] == point.mean_test and row["stderr_test"] == point.stderr_test
        assert row["improver_shas"] == list(point.improver_shas)
    # t=2 is the mean of the two runs that reached it (stored values carry +0.01 per seed)
    reached = [0.60 + 0.00, 0.70 + 0.01]
    assert math.isclose(cli_rows[2]["meta_utility_val"], statistics.fmean(reached))
    assert math.isclose(cli_rows[2]["stderr_val"], statistics.stdev(reached) / math.sqrt(2))
    assert cli_rows[2]["improver_sha"] == cli_rows[2]["improver_shas"][0]


def test_per_run_json_keeps_its_contract(runs_dir: Path) -> None:
    make_run(runs_dir, "r0", group="g", seed=0)
    data = _group_json([_run_result(runs_dir / "r0")])
    first = data["runs"][0]["iterations"][0]
    assert data["run_id"] == "r0"
    assert {"t", "meta_utility_val", "meta_utility_test", "improver_sha"} <= set(first)
