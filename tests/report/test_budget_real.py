"""Score vs budget in the report of a REAL offline-model run: headless Chromium, numbers from the store.

One tiny run (str_grid_dist, 1 iteration, 2 tests, 2 LM calls of 3 responses, 4 utility calls) in the real
sandbox; its report is written by the CLI in a subprocess and opened in headless Chromium. Each point of
the plotted curves is recomputed here from the `utility_calls` rows with plain SQL and arithmetic.
"""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import browser
import pytest

from selftaught.config import Settings

pytestmark = pytest.mark.slow  # a whole run on the offline model in the real sandbox

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
LM_CALLS = 2
RESPONSES = 3
UTILITY_BUDGET = 4


def rows(store: Path, sql: str, *args: object) -> list[sqlite3.Row]:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return list(db.execute(sql, args))
    finally:
        db.close()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from selftaught.stop import api

    runs_dir = tmp_path_factory.mktemp("budget-report") / "runs"
    settings = Settings(
        task="str_grid_dist",
        iterations=1,
        tests=2,
        estimate_tests=2,
        lm_calls=LM_CALLS,
        responses_per_call=RESPONSES,
        utility_budget=UTILITY_BUDGET,
        test_seed=777,
        improver_timeout=60.0,
        meta_improver_timeout=300.0,
        runs_dir=runs_dir,
    )
    [result] = api.self_improve(settings)
    return Path(result.path)


def expected_curves(store: Path) -> dict[int, list[tuple[int, float]]]:
    """Per iteration t: (LM calls, mean over tests of the best utility among calls made with at most that
    many LM calls spent), from the first budget at which every test had made a call."""
    curves = {}
    for it in rows(store, "SELECT t, improver_sha FROM iterations ORDER BY t"):
        calls = rows(
            store,
            "SELECT test_index, lm_calls, value FROM utility_calls WHERE context_kind = 'iteration' "
            "AND context_t = ? AND improver_sha = ?",
            it["t"],
            it["improver_sha"],
        )
        tests = sorted({c["test_index"] for c in calls})
        start = max(min(c["lm_calls"] for c in calls if c["test_index"] == k) for k in tests)
        grid = sorted({c["lm_calls"] for c in calls if c["lm_calls"] >= start})
        curves[it["t"]] = [
            (
                x,
                sum(
                    max(c["value"] for c in calls if c["test_index"] == k and c["lm_calls"] <= x)
                    for k in tests
                )
                / len(tests),
            )
            for x in grid
        ]
    return curves


def test_utility_calls_carry_the_budget_their_run_had_spent(run_dir: Path) -> None:
    store = run_dir / "run.sqlite"
    calls = rows(store, "SELECT * FROM utility_calls")
    assert calls and all(c["lm_calls"] is not None and c["lm_responses"] is not None for c in calls)
    assert {c["context_kind"] for c in calls} >= {"iteration", "step"}  # downstream tests and the step itself
    for run in rows(store, "SELECT * FROM improver_runs"):
        mine = rows(
            store,
            "SELECT lm_calls, lm_responses, seq FROM utility_calls WHERE context_kind = ? AND "
            "IFNULL(context_t, -1) = IFNULL(?, -1) AND improver_sha = ? AND test_index = ? ORDER BY seq",
            run["context_kind"],
            run["context_t"],
            run["improver_sha"],
            run["test_index"],
        )
        assert len(mine) == min(run["utility_calls"], UTILITY_BUDGET)  # calls past the budget are not scored
        for call in mine:  # never more than the run ended with, never more responses than calls allow
            assert 0 <= call["lm_calls"] <= run["lm_calls"] <= LM_CALLS
            assert call["lm_responses"] <= RESPONSES * call["lm_calls"]


def test_the_score_vs_budget_plot_shows_the_stored_calls(run_dir: Path) -> None:
    page = run_dir.parent / "budget.html"
    done = subprocess.run(
        [sys.executable, "-m", "selftaught", "report", str(run_dir), "--html", str(page)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    if not browser.available():
        pytest.skip("headless chromium not installed")
    loaded = browser.load(page, screenshot=ARTIFACTS / "budget-report.png")
    assert loaded.console == []
    assert loaded.dom.find("body").attrs.get("data-ready") == "1"
    section = loaded.dom.find("section", id="budget")
    figure = section.find("figure", cls="plot", data_plot="score-vs-budget")
    svg = figure.find("svg")
    assert len(svg.find_all("path")) > 5 and "score vs budget" in figure.text
    expected = expected_curves(run_dir / "run.sqlite")
    assert set(expected) == {0, 1}
    for t in expected:
        assert f"t={t} (" in figure.text  # each iteration's improver is in the legend
    shown: dict[int, list[tuple[int, float]]] = {}
    for row in section.find("table", id="budget-table").find_all("tr", where=lambda n: "data-t" in n.attrs):
        tds = row.find_all("td")
        shown.setdefault(int(row.attrs["data-t"]), []).append(
            (int(tds[1].attrs["data-value"]), float(tds[2].attrs["data-value"]))
        )
    assert shown.keys() == expected.keys()
    for t, points in expected.items():
        assert [x for x, _ in shown[t]] == [x for x, _ in points]
        assert all(math.isclose(a, b, rel_tol=1e-12) for (_, a), (_, b) in zip(shown[t], points, strict=True))
        assert all(a[1] <= b[1] for a, b in zip(shown[t], shown[t][1:], strict=False))  # best so far
    as_json = subprocess.run(
        [sys.executable, "-m", "selftaught", "report", str(run_dir), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert as_json.returncode == 0, as_json.stderr
    exported = {
        c["t"]: list(zip(c["lm_calls"], c["best"], strict=True))
        for c in json.loads(as_json.stdout)["budget_curves"]
    }
    assert exported.keys() == expected.keys()
    assert all(len(exported[t]) == len(expected[t]) for t in expected)
