"""Red team of what a task directory copies into an OpenEvolve evaluation (no sandbox needed).

selftaught is often run from the task's own directory, so what it writes there (run stores, their
journals, caches, reports) must never reach a candidate: a report page lists each run's secret test
seed, programs and scores. Each attack sits beside the honest control that the task's own data files
are still copied.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from selftaught.tasks import load_task
from selftaught.tasks.openevolve import OpenEvolveTask

POINT = Path(__file__).parent / "fixtures" / "point_direct"
SEED_PAGE = "<tr><td>test_seed</td><td>918273645</td></tr>"


def _task_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "task"
    directory.mkdir()
    for name in ("evaluator.py", "initial_program.py"):
        (directory / name).write_bytes((POINT / name).read_bytes())
    (directory / "points.csv").write_text("x,y\n0.2,0.1\n")  # the task's own data: the control
    return directory


def _store(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("create table secret (seed integer)")
    db.close()


def _copied(directory: Path) -> list[str]:
    task = load_task(f"openevolve:{directory}")
    assert isinstance(task, OpenEvolveTask)
    return sorted(task.files)


def test_journals_without_their_database_and_renamed_databases_stay_out(tmp_path: Path) -> None:
    directory = _task_dir(tmp_path)
    (directory / "out").mkdir()
    (directory / "out" / "run.sqlite-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 60)  # a WAL left alone
    (directory / "out" / "run.sqlite-shm").write_bytes(b"\x00" * 64)
    _store(directory / "points_backup.csv")  # a database under a data file's name
    assert _copied(directory) == ["evaluator.py", "initial_program.py", "points.csv"]


def test_a_group_report_in_a_runs_directory_of_another_name_stays_out(tmp_path: Path) -> None:
    directory = _task_dir(tmp_path)
    _store(directory / "results" / "20261205-g1-s0" / "run.sqlite")  # `--runs-dir results`
    (directory / "results" / "g1-report.html").write_text(SEED_PAGE)  # `selftaught report g1`
    assert _copied(directory) == ["evaluator.py", "initial_program.py", "points.csv"]
