"""Transfer of a run's improvers to other tasks, stored in the run for reports."""

from __future__ import annotations

import sqlite3

import pytest

import selftaught

pytestmark = pytest.mark.slow  # end to end: whole runs on the offline model in the real sandbox


def test_transfer_of_a_run_covers_every_improver_and_is_stored(small_settings) -> None:
    [run] = selftaught.self_improve(small_settings.model_copy(update={"iterations": 1}))
    cells = selftaught.transfer(run.run_id, tasks=["three_sat"], settings=small_settings)
    labels = [cell.label for cell in cells]
    assert labels[:2] == ["seed algorithm", "seed improver"]
    assert all(cell.task == "three_sat" and 0.0 <= cell.mean <= 1.0 for cell in cells)
    improved = {it.improver_sha for it in run.iterations if it.status == "improved"}
    assert len(labels) == 2 + len(improved)
    with sqlite3.connect(run.path / "run.sqlite") as db:
        stored = db.execute("SELECT label, task, mean FROM transfers ORDER BY id").fetchall()
    assert [(label, task) for label, task, _ in stored] == [(cell.label, cell.task) for cell in cells]
    assert [mean for *_, mean in stored] == [cell.mean for cell in cells]
