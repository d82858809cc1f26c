"""Transfer of a run's improvers to other tasks, stored in the run for reports."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

import selftaught
from selftaught.report import load_run_summary

pytestmark = pytest.mark.slow  # end to end: whole runs on the offline model in the real sandbox

# The target task only has to differ from the run's (str_grid_dist): parity_noise's seed scores its
# instances in a fraction of a second, where three_sat's or maxcut's take seconds per improver run.
TARGET = "parity_noise"


def test_transfer_covers_every_improver_and_the_store_and_report_read_back_its_cells(
    small_settings,
) -> None:
    """One run, one transfer: every improver gets a cell; the stored rows are the returned cells; the
    report reads back the same cells (less the unstored `mean_val`); both JSON shapes keep their keys
    (`transfer --json` with mean_val, the report's without)."""
    [run] = selftaught.self_improve(small_settings.model_copy(update={"iterations": 1}))
    cells = selftaught.transfer(run.run_id, tasks=[TARGET], settings=small_settings)
    labels = [cell.label for cell in cells]
    assert labels[:2] == ["seed algorithm", "seed improver"]
    assert all(cell.task == TARGET and 0.0 <= cell.mean <= 1.0 for cell in cells)
    improved = {it.improver_sha for it in run.iterations if it.status == "improved"}
    assert len(labels) == 2 + len(improved)
    with sqlite3.connect(run.path / "run.sqlite") as db:
        stored = db.execute("SELECT label, task, mean FROM transfers ORDER BY id").fetchall()
    assert [(label, task) for label, task, _ in stored] == [(cell.label, cell.task) for cell in cells]
    assert [mean for *_, mean in stored] == [cell.mean for cell in cells]
    summary = load_run_summary(run.path)
    assert list(summary.transfers) == [replace(cell, mean_val=None) for cell in cells]
    assert cells[0].improver_sha is None and all(cell.improver_sha for cell in cells[1:])
    assert all(
        list(cell.to_dict()) == ["label", "task", "mean", "stderr", "mean_val", "tests"] for cell in cells
    )
    assert all(
        list(cell) == ["label", "task", "mean", "stderr", "tests"] for cell in summary.to_dict()["transfers"]
    )
