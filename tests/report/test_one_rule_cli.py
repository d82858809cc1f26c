"""One best-iteration rule, one status vocabulary and one iteration count, as `runs`, `report` and
`compare` print them (the CLI in a subprocess, on a stored run whose t=1 ties t=0 on validation)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from report_fixtures import make_run

from selftaught.estimates import select_iteration, self_improvement_steps, status_label, status_labels
from selftaught.report.gain import Point, gain_line

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "selftaught", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


class _It:
    def __init__(self, t: int, val: float, status: str = "improved") -> None:
        self.t, self.meta_utility_val, self.status = t, val, status


def test_the_rule_selects_the_earliest_of_a_tie_with_the_seed_included() -> None:
    its = [_It(0, 0.848, "seed"), _It(1, 0.848), _It(2, 0.851), _It(3, 0.851)]
    assert select_iteration(its[:2]).t == 0  # type: ignore[union-attr]
    assert select_iteration(its).t == 2  # type: ignore[union-attr]
    assert self_improvement_steps(its) == 3
    assert status_labels(its) == {0: "seed", 1: "changed, not better", 2: "adopted", 3: "changed, not better"}
    assert status_label("kept", 0.9, 0.1) == "kept"
    points = [Point(0, 0.848, 0.5), Point(1, 0.848, 0.9)]
    assert "no gain" in gain_line(points), "the gain line follows the same rule"


@pytest.mark.slow
def test_runs_report_and_compare_agree_on_a_tie(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs, "20260101-000000-str_grid_dist-s0-aaaa", values=(0.848, 0.848, 0.840), iterations=2)
    listed = _cli("runs", "--runs-dir", str(runs), "--json", cwd=tmp_path)
    [row] = json.loads(listed.stdout)
    assert row["selected_t"] == 0 and row["iterations"] == 2
    reported = _cli(
        "report", "20260101-000000-str_grid_dist-s0-aaaa", "--runs-dir", str(runs), "--json", cwd=tmp_path
    )
    assert reported.returncode == 0, reported.stderr
    summary = json.loads(reported.stdout)
    assert summary["best_t"] == 0 and summary["steps"] == 2
    assert summary["status_labels"] == {"0": "seed", "1": "changed, not better", "2": "kept"}
    text = _cli(
        "report", "20260101-000000-str_grid_dist-s0-aaaa", "--runs-dir", str(runs), cwd=tmp_path
    ).stdout
    assert "changed, not better" in text and "improved" not in text.split("strategies")[0]
    table = _cli("runs", "--runs-dir", str(runs), cwd=tmp_path).stdout
    assert "0.848 (t=0)" in table


@pytest.mark.slow
def test_compare_flags_runs_estimated_with_different_tests(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs, "20260101-000000-str_grid_dist-s0-aaaa", values=(0.4, 0.5), iterations=1)
    other = make_run(runs, "20260101-000000-str_grid_dist-s1-bbbb", values=(0.4, 0.6), iterations=1, seed=1)
    with sqlite3.connect(other / "run.sqlite") as db:
        config = json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps({**config, "tests": 7}),))
    done = _cli("compare", "20260101-000000-str_grid_dist-s0-aaaa", "20260101-000000-str_grid_dist-s1-bbbb",
                "--runs-dir", str(runs), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "differ in --tests (2, 7)" in done.stdout


@pytest.mark.slow
def test_compare_counts_steps_plots_test_and_reads_the_selected_test(tmp_path: Path) -> None:
    """compare's runs table (terminal and HTML) counts self-improvement steps as `runs` does (2, not the
    3 stored iterations), shows the selected iteration's test value (t=1 here, not the last iteration's),
    and plots and tables the test split beside validation."""
    runs = tmp_path / "runs"
    a = "20260101-000000-str_grid_dist-s0-aaaa"
    b = "20260101-000000-str_grid_dist-s1-bbbb"
    make_run(runs, a, values=(0.40, 0.55, 0.50), iterations=2)
    make_run(runs, b, values=(0.40, 0.45, 0.45), iterations=2, seed=1)
    [listed_a, listed_b] = sorted(
        json.loads(_cli("runs", "--runs-dir", str(runs), "--json", cwd=tmp_path).stdout),
        key=lambda row: row["run_id"],
    )
    assert listed_a["iterations"] == listed_b["iterations"] == 2
    page = tmp_path / "compare.html"
    done = _cli("compare", a, b, "--runs-dir", str(runs), "--html", str(page), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "test meta-utility" in done.stdout and "validation meta-utility" in done.stdout
    row = next(
        line for line in done.stdout.splitlines() if line.strip().startswith(a) and "completed" in line
    )
    assert row.split()[2] == "2", row  # run, status, iterations
    with sqlite3.connect(runs / a / "run.sqlite") as db:
        stored = dict(db.execute("SELECT t, meta_utility_test FROM iterations").fetchall())
    assert row.split("(t=1)")[1].split()[0] == f"{stored[1]:.3f}", row  # its test, not t=2's
    html = page.read_text()
    steps = re.search(rf'<tr data-run="{a}">.*?</tr>', html, re.S)
    assert steps is not None
    cells = re.findall(r'data-value="([^"]*)"', steps.group(0))
    assert cells[0] == "2", cells  # the iterations cell
    assert float(cells[3]) == stored[1], cells  # its test: the selected t=1, not the last (t=2)
    header = re.search(r'<table id="compare-table">.*?</tr>', html, re.S)
    assert header is not None and f"test {a}" in header.group(0) and f"val {b}" in header.group(0)
    assert "test meta-utility" in html and "validation meta-utility" in html  # both panels' titles


IDENTITY = "def improve_algorithm(initial_solution, utility, language_model):\n    return initial_solution\n"


@pytest.mark.slow
def test_a_kept_step_reads_the_same_in_its_note_the_legend_and_the_plots(tmp_path: Path) -> None:
    """An improver that returns itself: the step is `kept`, its note says why, and the report's legend
    defines `kept` to include that reason (it once said only "the step failed"); nothing a normal run
    does shows as an alarming failure."""
    (tmp_path / "identity.py").write_text(IDENTITY)
    flags = ["--task", "str_grid_dist", "--tests", "1", "--estimate-tests", "2", "--utility-budget", "3"]
    done = _cli(
        "run", *flags, "--improver", "identity.py", "--iterations", "1", "--runs-dir", "runs", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    [run_id] = [p.name for p in (tmp_path / "runs").iterdir()]
    report = _cli("report", run_id, "--runs-dir", "runs", "--json", cwd=tmp_path)
    summary = json.loads(report.stdout)
    kept = summary["iterations"][1]
    assert summary["status_labels"]["1"] == "kept" and "unchanged" in kept["note"]
    page = tmp_path / "report.html"
    assert _cli("report", run_id, "--runs-dir", "runs", "--html", str(page), cwd=tmp_path).returncode == 0
    html = page.read_text()
    assert "<em>kept</em>: the step failed or returned the same improver" in html
    assert not [e for e in summary["events"] if e["category"] == "failure"], summary["events"]
    assert "unchanged" in done.stdout or "kept" in done.stdout
