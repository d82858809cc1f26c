"""Reports of REAL offline-model runs: the CLI, headless Chromium, and numbers checked against the store.

One module-scoped group of two tiny runs (str_grid_dist, 2 iterations, 2 tests) is made through the
STOP API, in the real sandbox; while the first run is still going, a report is taken of it (the run in
progress). Screenshots go to test-artifacts/report/.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import browser
import pytest

from selftaught.config import Settings
from selftaught.estimates import status_label
from selftaught.report import RunSummary, load_run_summary, render_html
from selftaught.report.html import write_html

pytestmark = pytest.mark.slow  # end to end: whole runs on the offline model in the real sandbox

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
RUN_SECTIONS = ("summary", "curves", "usage", "events", "lineage", "strategies", "transfer", "config")
needs_chromium = pytest.mark.skipif(not browser.available(), reason="headless chromium not installed")


class Snapshot:
    """A `Progress` that reports the first run as soon as its seed iteration is stored (run in progress)."""

    def __init__(self, runs_dir: Path, out: Path) -> None:
        self.runs_dir = runs_dir
        self.out = out
        self.captured: RunSummary | None = None

    def stage(self, name: str, total: int | None) -> None:
        return None

    def advance(self, name: str, amount: int = 1) -> None:
        return None

    def summary(self, text: str) -> None:  # said after each stored iteration, the seed's included
        if self.captured is not None:
            return
        [run_dir] = [path for path in self.runs_dir.iterdir() if path.is_dir()]
        self.captured = load_run_summary(run_dir)
        write_html(render_html(self.captured), self.out)


@dataclass
class RealRuns:
    runs_dir: Path
    run_ids: list[str]  # the group's runs
    group: str
    single: str  # a run made alone, reported while it was in progress
    in_progress: RunSummary
    in_progress_html: Path


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealRuns:
    from selftaught.stop import api

    base = tmp_path_factory.mktemp("real-report")
    runs_dir = base / "runs"
    runs_dir.mkdir()
    settings = Settings(
        task="str_grid_dist",
        iterations=2,
        tests=2,
        estimate_tests=2,
        lm_calls=2,
        responses_per_call=3,
        utility_budget=4,
        test_seed=777,
        improver_timeout=60.0,
        meta_improver_timeout=300.0,
        runs_dir=runs_dir / "alone",
    )
    snapshot = Snapshot(settings.runs_dir, base / "in-progress.html")
    [single] = api.self_improve(settings.model_copy(update={"iterations": 1}), progress=snapshot)
    assert snapshot.captured is not None
    single_dir = runs_dir / single.run_id
    Path(single.path).rename(single_dir)  # a finished run moved into the shared runs directory
    results = api.self_improve(settings.model_copy(update={"seeds": 2, "runs_dir": runs_dir}))
    meta_group = store_rows(runs_dir / results[0].run_id, "SELECT value FROM meta WHERE key = 'group'")[0][0]
    return RealRuns(
        runs_dir,
        [result.run_id for result in results],
        json.loads(meta_group),
        single.run_id,
        snapshot.captured,
        snapshot.out,
    )


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "selftaught", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "160"},
        check=False,
    )


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Done]:
    """`selftaught.cli.main` in this process (same code path, without a second interpreter start-up)."""
    from selftaught.cli import main as entry

    def invoke(*args: str) -> Done:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["selftaught", *args])
        code = 0
        try:
            entry()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return invoke


def store_rows(run_dir: Path, sql: str) -> list[sqlite3.Row]:
    db = sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return list(db.execute(sql))
    finally:
        db.close()


def cells(row: browser.Node) -> list[browser.Node]:
    return row.find_all("td")


@pytest.fixture(scope="module")
def run_page(real: RealRuns) -> Path:
    """The first run's report, written by the real CLI in a subprocess."""
    page = real.runs_dir.parent / "run.html"
    done = cli(
        "report",
        real.run_ids[0],
        "--runs-dir",
        str(real.runs_dir),
        "--html",
        str(page),
        cwd=real.runs_dir.parent,
    )
    assert done.returncode == 0, done.stderr
    assert "HTML report" in done.stdout and real.run_ids[0] in done.stdout
    return page


def test_numbers_in_the_html_equal_the_store(real: RealRuns, run_page: Path) -> None:
    run_id = real.run_ids[0]
    dom = browser.parse(run_page.read_text(encoding="utf-8"))
    run_dir = real.runs_dir / run_id
    stored = store_rows(run_dir, "SELECT * FROM iterations ORDER BY t")
    rows = dom.find("table", id="iterations-table").find_all("tr", where=lambda n: "data-t" in n.attrs)
    assert len(rows) == len(stored) == 3
    previous: dict | None = None
    for row, expected in zip(rows, stored, strict=True):
        assert int(row.attrs["data-t"]) == expected["t"]
        tds = cells(row)
        parent_val = None if previous is None else previous["meta_utility_val"]
        assert tds[1].text == status_label(expected["status"], expected["meta_utility_val"], parent_val)
        previous = expected
        val, test = tds[2], tds[3]
        assert float(val.attrs["data-value"]) == expected["meta_utility_val"]
        assert float(val.attrs["data-stderr"]) == expected["stderr_val"]
        assert float(test.attrs["data-value"]) == expected["meta_utility_test"]
        assert val.text == f"{expected['meta_utility_val']:.4f} ± {expected['stderr_val']:.4f}"
        assert test.text == f"{expected['meta_utility_test']:.4f} ± {expected['stderr_test']:.4f}"
        assert int(tds[4].attrs["data-value"]) == expected["lm_calls"]
        assert int(tds[5].attrs["data-value"]) == expected["tokens_in"]
        assert int(tds[6].attrs["data-value"]) == expected["tokens_out"]
        assert float(tds[8].attrs["data-value"]) == expected["wall_seconds"]
        assert expected["improver_sha"][:10] in tds[9].text
    # LM usage per iteration equals the lm_calls table (fresh calls; replays apart)
    usage = {
        row["iteration"]: row
        for row in store_rows(
            run_dir,
            "SELECT iteration, SUM(cached = 0) AS calls, SUM(CASE WHEN cached = 0 THEN tokens_in END) AS tin, "
            "SUM(cached != 0) AS replays FROM lm_calls GROUP BY iteration",
        )
    }
    usage_rows = dom.find("table", id="usage-table").find_all("tr", where=lambda n: "data-t" in n.attrs)
    assert len(usage_rows) == len(usage)
    for row in usage_rows:
        expected = usage[int(row.attrs["data-t"])]
        tds = cells(row)
        assert int(tds[1].attrs["data-value"]) == expected["calls"]
        assert int(tds[2].attrs["data-value"]) == expected["replays"]
        assert int(tds[4].attrs["data-value"]) == (expected["tin"] or 0)
    # every candidate estimate is listed; every event is listed (this run has few)
    candidates = store_rows(
        run_dir, "SELECT COUNT(*) AS n FROM meta_utilities WHERE context_kind = 'candidates'"
    )[0]["n"]
    if candidates:
        assert (
            len(dom.find("table", id="candidates-table").find_all("tr", where=lambda n: "data-t" in n.attrs))
            == candidates
        )
    events = store_rows(run_dir, "SELECT COUNT(*) AS n FROM events")[0]["n"]
    if events:
        assert (
            len(
                dom.find("table", id="events-table").find_all(
                    "tr", where=lambda n: "data-category" in n.attrs
                )
            )
            == events
        )
        by_kind = {
            row["kind"]: row["n"]
            for row in store_rows(run_dir, "SELECT kind, COUNT(*) AS n FROM events GROUP BY kind")
        }
        kind_rows = dom.find("table", id="event-kinds").find_all("tr", where=lambda n: "data-kind" in n.attrs)
        assert {
            row.attrs["data-kind"]: int(cells(row)[2].attrs["data-value"]) for row in kind_rows
        } == by_kind
    # the lineage holds each stored improver; the reproduction command is the stored one
    improvers = dom.find_all("details", cls="improver")
    assert [node.attrs["data-sha"] for node in improvers] == [row["improver_sha"] for row in stored]
    command = json.loads(store_rows(run_dir, "SELECT value FROM meta WHERE key = 'command'")[0]["value"])
    assert dom.find("pre", id="command").text == command
    assert "--task str_grid_dist" in dom.find("pre", id="reproduce").text


@needs_chromium
def test_run_report_loads_in_chromium_without_console_errors(run_page: Path) -> None:
    page = run_page
    raw = page.read_text(encoding="utf-8")
    for external in ('src="http', "src='http", 'href="http', "url(http", "@import"):
        assert external not in raw  # self-contained: nothing to fetch
    shot = ARTIFACTS / "run-report.png"
    loaded = browser.load(page, screenshot=shot)
    assert loaded.console == []
    assert shot.stat().st_size > 20_000
    body = loaded.dom.find("body")
    assert body.attrs.get("data-ready") == "1", "the page script did not run"
    for section in RUN_SECTIONS:
        assert loaded.dom.find_all("section", id=section), f"section #{section} missing"
    for plot in ("meta-utility", "usage"):
        figure = loaded.dom.find("figure", cls="plot", data_plot=plot)
        svg = figure.find("svg")
        assert len(svg.find_all("path")) > 5 or len(svg.find_all("use")) > 2
    assert "meta-utility per iteration" in loaded.dom.find("figure", data_plot="meta-utility").text
    # the tab script ran: each improver shows its diff pane and hides the source pane
    for block in loaded.dom.find_all("details", cls="improver"):
        if block.find_all("div", cls="tabbed"):
            assert "hidden" in block.find("div", cls="source").attrs
            assert "hidden" not in block.find("div", cls="diff").attrs
            assert block.find("div", cls="source").find_all("div", cls="hl")


@needs_chromium
def test_group_report_aggregates_the_seeds(real: RealRuns, tmp_path: Path, main: Callable[..., Done]) -> None:
    page = tmp_path / "group.html"
    done = main("report", real.group, "--runs-dir", str(real.runs_dir), "--html", str(page))
    assert done.returncode == 0, done.stderr
    assert "mean ± SE over runs" in done.stdout
    loaded = browser.load(page, screenshot=ARTIFACTS / "group-report.png")
    assert loaded.console == []
    assert loaded.dom.find("body").attrs["data-report"] == "group"
    for section in ("summary", "curves", "strategies", "runs"):
        assert loaded.dom.find_all("section", id=section)
    assert loaded.dom.find("figure", cls="plot", data_plot="meta-utility").find("svg")
    assert len(loaded.dom.find_all("details", cls="run")) == 2
    per_run = [
        store_rows(real.runs_dir / run_id, "SELECT t, meta_utility_val, meta_utility_test FROM iterations")
        for run_id in real.run_ids
    ]
    rows = loaded.dom.find("table", id="aggregate-table").find_all("tr", where=lambda n: "data-t" in n.attrs)
    assert len(rows) == 3
    for row in rows:
        t = int(row.attrs["data-t"])
        vals = [r["meta_utility_val"] for rs in per_run for r in rs if r["t"] == t]
        tests = [r["meta_utility_test"] for rs in per_run for r in rs if r["t"] == t]
        tds = cells(row)
        assert int(tds[1].attrs["data-value"]) == len(vals) == 2
        assert math.isclose(float(tds[2].attrs["data-value"]), statistics.fmean(vals), rel_tol=1e-12)
        assert math.isclose(
            float(tds[2].attrs["data-stderr"]), statistics.stdev(vals) / math.sqrt(2), abs_tol=1e-12
        )
        assert math.isclose(float(tds[3].attrs["data-value"]), statistics.fmean(tests), rel_tol=1e-12)


@needs_chromium
def test_compare_puts_runs_side_by_side(real: RealRuns, tmp_path: Path, main: Callable[..., Done]) -> None:
    page = tmp_path / "compare.html"
    a, b = real.single, real.run_ids[1]
    done = main("compare", a, b, "--runs-dir", str(real.runs_dir), "--html", str(page))
    assert done.returncode == 0, done.stderr
    loaded = browser.load(page)
    assert loaded.console == []
    figure = loaded.dom.find("figure", cls="plot", data_plot="compare")
    assert a in figure.text and b in figure.text  # both curves are in the legend
    rows = loaded.dom.find("table", id="compare-table").find_all("tr", where=lambda n: "data-t" in n.attrs)
    stored_b = store_rows(real.runs_dir / b, "SELECT meta_utility_val FROM iterations ORDER BY t")
    assert [float(cells(row)[2].attrs["data-value"]) for row in rows] == [r[0] for r in stored_b]
    as_json = main("compare", a, real.group, "--runs-dir", str(real.runs_dir), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data[0]["run_id"] == a and data[1]["group"] == real.group


@needs_chromium
def test_a_run_in_progress_reports_what_exists(real: RealRuns) -> None:
    summary = real.in_progress
    assert summary.status == "running"
    assert [it.t for it in summary.iterations] == [0]
    assert any("in progress" in warning for warning in summary.warnings)
    loaded = browser.load(real.in_progress_html, screenshot=ARTIFACTS / "in-progress-report.png", height=900)
    assert loaded.console == []
    warning = loaded.dom.find("div", cls="warning")
    assert "in progress: 0 of 1 self-improvement steps" in warning.text
    rows = loaded.dom.find("table", id="iterations-table").find_all("tr", where=lambda n: "data-t" in n.attrs)
    assert len(rows) == 1


def test_exports_and_errors_from_the_cli(real: RealRuns, main: Callable[..., Done]) -> None:
    run_id = real.run_ids[1]
    done = main("report", run_id, "--runs-dir", str(real.runs_dir), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    stored = store_rows(
        real.runs_dir / run_id, "SELECT meta_utility_val, meta_utility_test FROM iterations ORDER BY t"
    )
    assert [(it["meta_utility_val"], it["meta_utility_test"]) for it in data["iterations"]] == [
        tuple(r) for r in stored
    ]
    assert not (real.runs_dir / run_id / "report.html").exists()  # --format alone writes no HTML
    csv_out = main("report", real.group, "--runs-dir", str(real.runs_dir), "--format", "csv")
    assert csv_out.returncode == 0 and csv_out.stdout.startswith("row,group,run_id")
    assert csv_out.stdout.count("\nmean,") == 3
    default = main("report", run_id, "--runs-dir", str(real.runs_dir))
    assert default.returncode == 0 and (real.runs_dir / run_id / "report.html").is_file()
    missing = main("report", "no-such-run", "--runs-dir", str(real.runs_dir))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no run or group" in missing.stderr
    one = main("compare", run_id, "--runs-dir", str(real.runs_dir))
    assert one.returncode == 2 and "at least two" in one.stderr
