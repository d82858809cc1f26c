"""The line that ends `selftaught run`'s table: numbers from the run, selection by validation, honesty."""

from __future__ import annotations

from pathlib import Path

from report_fixtures import make_run

from selftaught.report.gain import Point, gain_line, selected
from selftaught.store import RunReader


def test_numbers_come_from_a_stored_run(runs_dir: Path) -> None:
    # make_run stores val 0.40/0.55/0.55, test 0.35/0.50/0.50, test standard errors 0.03.
    run_dir = make_run(runs_dir, "20261126-000000-str_grid_dist-s0-abcd")
    with RunReader.open(run_dir / "run.sqlite") as reader:
        points = [Point.of(it) for it in reader.iterations()]
    line = gain_line(points)
    assert line == (
        "test 0.350 -> 0.500 (+0.150) from the seed improver (t=0) to the improver validation selects (t=1)"
    )


def test_selection_is_by_validation_never_by_test() -> None:
    points = [Point(0, 0.50, 0.50, 0.01), Point(1, 0.60, 0.55, 0.01), Point(2, 0.58, 0.90, 0.01)]
    assert selected(points).t == 1  # t=2 has the best test but not the best validation
    assert "0.500 -> 0.550 (+0.050)" in gain_line(points) and "(t=1)" in gain_line(points)


def test_ties_on_validation_pick_the_earliest() -> None:
    points = [Point(0, 0.5, 0.4), Point(1, 0.7, 0.6), Point(2, 0.7, 0.8)]
    assert selected(points).t == 1


def test_no_gain_when_validation_never_rises_above_the_seed() -> None:
    points = [Point(0, 0.4668, 0.4555), Point(1, 0.4668, 0.4555), Point(2, 0.40, 0.60)]
    line = gain_line(points)
    assert line.startswith("no gain") and "0.456" in line and "->" not in line


def test_a_change_within_noise_is_not_called_a_gain() -> None:
    line = gain_line([Point(0, 0.51, 0.50, 0.02), Point(1, 0.53, 0.52, 0.02)])
    assert "+0.020" in line and line.endswith("within noise, not significant in this run (2 SE = 0.057)")


def test_a_worse_test_is_said_plainly() -> None:
    line = gain_line([Point(0, 0.5, 0.60, 0.01), Point(1, 0.7, 0.40, 0.01)])
    assert "(-0.200)" in line and line.endswith("test got worse")


def test_nothing_to_compare() -> None:
    assert "nothing to compare" in gain_line([])
    assert "nothing to compare" in gain_line([Point(0, 0.5, 0.5)])
