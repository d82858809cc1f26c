"""The report tells the truth: status as stored, a curve axis that fits, zero-score candidates apart,
candidates linked to their code and failure reason, the lineage as a tree, no page-wide overflow,
event categories from the one registry. Checked in real headless Chromium where layout matters."""

from __future__ import annotations

import re
from pathlib import Path

import browser
import pytest
from report_fixtures import make_run

from selftaught.events import category
from selftaught.report import load_run_summary, render_html
from selftaught.report.html import write_html
from selftaught.report.plots import run_curve_svg, value_limits
from selftaught.store import Context, ImproverRunRecord, MetaUtilityRecord, RunStore

ZERO_IMPROVER = "def improve_algorithm(initial_solution, utility, language_model):\n    return None\n"
LONG_REASON = "improver crashed: " + "NoSpacesInThisVeryLongReason" * 12


def _with_a_zero_candidate(run_dir: Path) -> None:
    """A candidate of step t=1 that scored 0: both improver runs failed, one with a very long reason."""
    store = RunStore.open_existing(run_dir / "run.sqlite")
    program_sha = store.put_program(ZERO_IMPROVER, "improver")
    store.add_meta_utility(
        MetaUtilityRecord(Context.candidates(1), program_sha, "str_grid_dist", 0.0, 0.0, 0.0, 0.0, 2)
    )
    for k, reason in enumerate((LONG_REASON, "timeout")):
        store.add_improver_run(
            ImproverRunRecord(
                context=Context.candidates(1),
                improver_sha=program_sha,
                task="str_grid_dist",
                test_index=k,
                input_sha="i" * 64,
                output_sha=None,
                error=reason,
                utility_val=0.0,
                utility_test=0.0,
                lm_calls=1,
                utility_calls=0,
                wall_seconds=0.5,
            )
        )
    store.add_event(
        "output-rejected",
        "str_grid_dist: 3 of 50 outputs rejected by validation (3x invalid output)",
        iteration=1,
    )
    store.close()


@pytest.fixture
def page(runs_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    run_dir = make_run(runs_dir, "20261127-000000-str_grid_dist-s0-aaaa", values=(0.40, 0.55, 0.55))
    _with_a_zero_candidate(run_dir)
    summary = load_run_summary(run_dir)
    return run_dir, write_html(render_html(summary), tmp_path / "report.html")


def test_candidates_carry_their_failure_reason_and_code(page: tuple[Path, Path]) -> None:
    run_dir, _ = page
    summary = load_run_summary(run_dir)
    zero = [c for c in summary.candidates if c.value_val == 0.0]
    assert len(zero) == 1
    assert zero[0].failure == f"2 of 2 improver runs failed: {LONG_REASON}"
    assert zero[0].source is not None and "return None" in zero[0].source


def test_axis_fits_the_data_and_zero_candidates_are_apart(page: tuple[Path, Path]) -> None:
    run_dir, _ = page
    summary = load_run_summary(run_dir)
    low, high = value_limits([0.4, 0.55]) or (0.0, 0.0)
    assert 0.3 < low < 0.4 and 0.55 < high < 0.6  # fits the data, not stretched down to 0
    svg = run_curve_svg(summary)
    assert "zero-score candidates (1, not to scale)" in svg
    y_ticks = [float(text) for text in re.findall(r">(-?\d\.\d+)</text>", svg)]
    assert y_ticks and min(y_ticks) > 0.15, y_ticks  # the zero candidate did not pull the axis to 0


@pytest.mark.browser
@pytest.mark.skipif(not browser.available(), reason="needs headless chromium")
def test_the_page_in_chromium(page: tuple[Path, Path], tmp_path: Path) -> None:
    _, html_path = page
    probe = html_path.with_name("probe.html")
    # Measure layout after the page's scripts ran: how far the page itself scrolls sideways.
    probe.write_text(
        html_path.read_text().replace(
            "</body>",
            "<script>window.addEventListener('load', function () {"
            " document.querySelectorAll('details').forEach(function (d) { d.open = true; });"
            " document.body.setAttribute('data-overflow', String(document.documentElement.scrollWidth - window.innerWidth));"
            " document.querySelectorAll('.scroll').forEach(function (box) {"
            "  var table = box.querySelector('table'); if (table && table.id) {"
            "   table.setAttribute('data-overflow', String(box.scrollWidth - box.clientWidth)); } });"
            "});</script></body>",
        )
    )
    loaded = browser.load(probe, screenshot=tmp_path / "page.png", width=900, height=1400)
    dom = loaded.dom
    assert not [line for line in loaded.console if "Uncaught" in line], loaded.console
    body = dom.find("body")
    assert int(body.attrs["data-overflow"]) <= 0, "a table or block makes the page scroll sideways"
    for ident in ("candidates-table", "event-kinds", "events-table", "iterations-table"):
        assert int(dom.find("table", id=ident).attrs["data-overflow"]) <= 0, f"{ident} is wider than the page"

    # Every candidate link resolves to a block with its code; the zero one carries its failure reason.
    table = dom.find("table", id="candidates-table")
    links = [a.attrs["href"] for a in table.find_all("a")]
    assert links and all(href.startswith("#candidate-") for href in links)
    ids = {node.attrs.get("id") for node in dom.iter()}
    assert all(href[1:] in ids for href in links)
    zero_row = table.find("tr", data_zero="")
    assert LONG_REASON in zero_row.text
    block = dom.find("details", id="candidate-" + zero_row.attrs["data-sha"][:12])
    assert LONG_REASON in block.find("p", cls="reason").text
    assert "improve_algorithm" in block.text and "None" in block.text

    # The lineage is a tree: t=1 hangs under t=0; the kept step t=2 is a note on t=1, not a node.
    tree = dom.find("ul", id="lineage-tree")
    root = tree.find("li", data_t="0")
    child = root.find("li", data_t="1")
    assert "kept at t=2" in child.text
    assert not tree.find_all("li", data_t="2")
    assert all(dom.find_all(id=a.attrs["href"][1:]) for a in tree.find_all("a"))

    # Categories come from the registry: a rejected output is an expected failure of a normal run,
    # never a safety event nor an alarming failure.
    rows = dom.find("table", id="event-kinds").find_all("tr", data_kind="output-rejected")
    assert rows and rows[0].find("td").text == category("output-rejected") == "expected"


@pytest.mark.parametrize("status", ["failed", "stopped", "interrupted", "running"])
def test_a_run_that_did_not_complete_never_shows_completed(runs_dir: Path, status: str) -> None:
    run_dir = make_run(runs_dir, f"20261127-000000-str_grid_dist-s0-{status[:4]}", status=status)
    html = render_html(load_run_summary(run_dir))
    header = html[html.index("<header") : html.index("</header>")]
    assert f'badge {status}">{status}<' in header
    assert "completed" not in header


def test_safety_audit_shows_the_same_category_as_the_report(page: tuple[Path, Path]) -> None:
    import os
    import subprocess
    import sys

    run_dir, _ = page
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "selftaught",
            "safety",
            "audit",
            run_dir.name,
            "--runs-dir",
            str(run_dir.parent),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = load_run_summary(run_dir)
    for event in summary.events:
        line = next(row for row in done.stdout.splitlines() if f" {event.kind} " in f" {row} ")
        assert event.category in line.split(), (event.kind, line)


def test_unbounded_scores_are_drawn_as_scores(runs_dir: Path) -> None:
    """An OpenEvolve task's utilities are its evaluator's numbers: a negative candidate is a score on
    the axis, not a zero-score failure, and values above 1 are not squashed."""
    run_dir = make_run(runs_dir, "20261127-000000-str_grid_dist-s1-bbbb", values=(2.0, 13.7, 13.9))
    store = RunStore.open_existing(run_dir / "run.sqlite")
    sha = store.put_program(ZERO_IMPROVER.replace("None", "initial_solution"), "improver")
    store.add_meta_utility(
        MetaUtilityRecord(Context.candidates(1), sha, "str_grid_dist", -4.0, 0.0, -4.0, 0.0, 2)
    )
    store.close()
    summary = load_run_summary(run_dir)
    assert any(c.value_val == -4.0 for c in summary.candidates)
    svg = run_curve_svg(summary)
    assert "zero-score candidates" not in svg
    y_ticks = [float(text) for text in re.findall(r">(−?-?\d+(?:\.\d+)?)</text>", svg.replace("−", "-"))]
    assert y_ticks and min(y_ticks) < 0 < 13 < max(y_ticks), y_ticks
