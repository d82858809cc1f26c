"""The live view watched in a browser while a real run writes its store.

A real offline-model run (CLI subprocess, real sandbox) and `selftaught serve` (CLI subprocess) share
only the runs directory. One headless Chromium tab stays on the run's page for the whole run: its
iteration counter and the number of candidate points drawn in the meta-utility plot must grow without a
reload (a marker set in the page at the start must survive, and Chromium must see a single navigation),
and once the run has ended the page's numbers must equal those of the static report of the same run,
read by the same JavaScript from both pages. No assertion depends on wall-clock time: every wait polls
with a generous deadline, and the run is slowed only by its size (small task budget, 2 iterations).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import browser
import pytest
from cdp import Page
from serve_fixtures import ServeProcess

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.long,
    pytest.mark.timeout(3000),
    pytest.mark.skipif(not browser.available(), reason="needs headless chromium"),
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
ITERATIONS = 2  # three iterations shown (t = 0, 1, 2): enough for every counter to grow

# The same numbers read from the live page and from the static report: every numeric cell of the
# tables that hold the run's results, the progress counters, and the points the plot draws.
NUMBERS = """JSON.stringify((function () {
  function table(id) {
    var t = document.getElementById(id);
    if (!t) { return null; }
    return Array.prototype.map.call(t.querySelectorAll('tbody tr'), function (tr) {
      return Array.prototype.map.call(tr.querySelectorAll('td'), function (td) {
        return td.dataset.value !== undefined ? [td.dataset.value, td.dataset.stderr || ''] : td.textContent;
      });
    });
  }
  function counter(id) {
    var e = document.getElementById(id);
    return e ? [e.dataset.value, e.dataset.total] : null;
  }
  var ids = ['progress-iterations', 'progress-candidates', 'progress-tests', 'progress-test-runs',
             'progress-points', 'progress-lm-calls', 'progress-tokens', 'progress-cost'];
  var out = {facts: Array.prototype.map.call(document.querySelectorAll('#facts td'), function (td) { return td.textContent; })};
  ['iterations-table', 'candidates-table', 'usage-table', 'event-kinds', 'downstream-table', 'budget-runs-table',
   'budget-table'].forEach(function (id) { out[id] = table(id); });
  ids.forEach(function (id) { out[id] = counter(id); });
  out.points = document.querySelectorAll('#curve-candidate-points use').length
             + document.querySelectorAll('#curve-zero-candidates use').length;
  return out;
})())"""

OBSERVE = """JSON.stringify({
  iterations: (document.getElementById('progress-iterations') || {dataset: {}}).dataset.value || null,
  points: document.querySelectorAll('#curve-candidate-points use').length
        + document.querySelectorAll('#curve-zero-candidates use').length,
  lineage: document.querySelectorAll('#lineage-tree li').length,
  downstream: document.querySelectorAll('#downstream-table tbody tr').length,
  status: (document.querySelector('#progress-table .badge') || {}).textContent || null,
  probe: window.__probe || null,
  updates: document.body.dataset.updates || '0'
})"""


def wait_for_run_dir(runs_dir: Path, run: subprocess.Popen[str], deadline: float) -> Path:
    while time.monotonic() < deadline:
        found = (
            [path for path in runs_dir.glob("*") if (path / "run.sqlite").is_file()]
            if runs_dir.is_dir()
            else []
        )
        if found:
            return found[0]
        assert run.poll() is None, "the run ended before its store appeared"
        time.sleep(0.2)
    raise AssertionError("no run store appeared")


def distinct_improvers(run_dir: Path) -> int:
    with sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(DISTINCT improver_sha) FROM iterations").fetchone()[0])


def proposed_candidates(run_dir: Path) -> int:
    with sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True) as db:
        return int(
            db.execute("SELECT COUNT(*) FROM meta_utilities WHERE context_kind = 'candidates'").fetchone()[0]
        )


def test_live_page_grows_without_reload_and_ends_equal_to_the_static_report(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "selftaught",
            "run",
            "--task",
            "circle_packing",
            "--iterations",
            str(ITERATIONS),
            "--tests",
            "2",
            "--estimate-tests",
            "2",
            "--utility-budget",
            "8",
            "--runs-dir",
            str(runs_dir),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        with ServeProcess(runs_dir) as server:
            run_dir = wait_for_run_dir(runs_dir, run, time.monotonic() + 600)
            with Page(f"{server.url}runs/{run_dir.name}") as page:
                page.wait_for("document.body && document.body.dataset.live === '1'", timeout=300)
                page.evaluate("window.__probe = 'the same page'")
                seen: list[dict[str, object]] = []
                shot_at = None
                deadline = time.monotonic() + 2400
                while run.poll() is None and time.monotonic() < deadline:
                    seen.append(json.loads(page.evaluate(OBSERVE)))
                    last = seen[-1]
                    if last["iterations"] not in (None, shot_at) and int(str(last["points"])) > 0:
                        page.screenshot(ARTIFACTS / "live-view.png")  # the newest mid-run state is kept
                        shot_at = last["iterations"]
                    time.sleep(0.5)
                assert run.wait(timeout=600) == 0, (tmp_path / "run.log").read_text()[-3000:]
                page.wait_for(
                    "(document.querySelector('#progress-table .badge') || {}).textContent === 'completed'"
                    f" && document.getElementById('progress-iterations').dataset.value === '{ITERATIONS + 1}'",
                    timeout=600,
                )
                seen.append(json.loads(page.evaluate(OBSERVE)))
                live = json.loads(page.evaluate(NUMBERS))
                navigations = page.navigations()
                problems = page.messages()
            static = tmp_path / "static.html"
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "selftaught",
                    "report",
                    run_dir.name,
                    "--runs-dir",
                    str(runs_dir),
                    "--html",
                    str(static),
                ],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            with Page(static.resolve().as_uri()) as page:
                page.wait_for("document.body && document.body.dataset.ready === '1'", timeout=300)
                reported = json.loads(page.evaluate(NUMBERS))
    finally:
        if run.poll() is None:
            run.terminate()
            run.wait(timeout=60)
        log.close()

    iterations = [int(str(item["iterations"])) for item in seen if item["iterations"] is not None]
    points = [int(str(item["points"])) for item in seen]
    assert iterations == sorted(iterations) and len(set(iterations)) >= 2, iterations  # grew, never went back
    assert iterations[-1] == ITERATIONS + 1
    assert points == sorted(points) and len(set(points)) >= 2, points
    assert points[-1] == proposed_candidates(run_dir) > 0
    downstream = [int(str(item["downstream"])) for item in seen]  # every test adds a row, in place
    assert downstream == sorted(downstream) and len(set(downstream)) >= 2, downstream
    # The lineage tree only grows when a step adopts a new improver (kept steps add none): it must never
    # shrink, and end with every distinct improver of the run.
    lineage = [int(str(item["lineage"])) for item in seen]
    assert lineage == sorted(lineage) and lineage[-1] == distinct_improvers(run_dir) > 0, lineage
    assert all(item["probe"] == "the same page" for item in seen)  # never reloaded
    assert navigations == 1 and int(str(seen[-1]["updates"])) >= 2
    assert not [text for text in problems if "error" in text.lower() or "exception" in text.lower()], problems
    # The finished live page shows exactly the static report's numbers.
    assert live == reported
    assert live["iterations-table"] and len(live["iterations-table"]) == ITERATIONS + 1
    assert live["downstream-table"] and live["progress-points"] == [str(points[-1]), ""]
