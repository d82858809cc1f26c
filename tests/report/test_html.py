"""HTML pages of unusual runs (no iteration yet, stopped early, uneven groups), checked without a browser."""

from __future__ import annotations

from pathlib import Path

from browser import parse
from report_fixtures import make_run

from selftaught.report import html_report, load_report, load_run_summary, render_html
from selftaught.store import RunStore

RUN_SECTIONS = ("summary", "curves", "usage", "events", "lineage", "strategies", "transfer", "config")


def test_a_run_killed_before_its_first_iteration_still_renders(runs_dir: Path) -> None:
    store = RunStore(runs_dir / "early" / "run.sqlite")
    store.update_meta(status="running")
    store.close()
    dom = parse(render_html(load_run_summary(runs_dir / "early")))
    for section in RUN_SECTIONS:
        assert dom.find_all("section", id=section)
    assert "No iteration has finished yet" in dom.find("section", id="summary").text
    assert dom.find("figure", data_plot="meta-utility").find("svg")
    assert "in progress" in dom.find("div", cls="warning").text


def test_a_stopped_run_says_why(runs_dir: Path) -> None:
    run_dir = make_run(runs_dir, "stopped", status="stopped", values=(0.4, 0.5), iterations=3)
    store = RunStore(run_dir / "run.sqlite")
    store.update_meta(stop_reason="cost cap of $0.01 reached")
    store.close()
    summary = load_run_summary(run_dir)
    assert summary.stop_reason == "cost cap of $0.01 reached"
    assert any(
        "stopped early after 1 self-improvement step(s): cost cap" in warning for warning in summary.warnings
    )
    dom = parse(render_html(summary))
    assert "cost cap" in dom.find("div", cls="warning").text
    assert dom.find("span", cls="stopped")


def test_an_unpriced_model_s_costs_read_unknown_not_free(runs_dir: Path) -> None:
    """A model with no known price records $0 per call; the page says the cost is unknown instead."""
    priced = parse(render_html(load_run_summary(make_run(runs_dir, "offline"))))
    unpriced_dir = make_run(runs_dir, "unpriced", model="openai/my-own-model@http://127.0.0.1:9/v1")
    unpriced = parse(render_html(load_run_summary(unpriced_dir)))

    def cost_cells(dom: object) -> list[str]:
        table = dom.find("table", id="iterations-table")  # type: ignore[attr-defined]
        return [row.find_all("td")[7].text.strip() for row in table.find("tbody").find_all("tr")]

    assert cost_cells(priced) and all(cell != "unknown" for cell in cost_cells(priced))
    assert cost_cells(unpriced) and all(cell == "unknown" for cell in cost_cells(unpriced))
    summary = unpriced.find("section", id="summary").text
    assert "cost unknown" in summary and "--prices-file" in summary
    assert "cost unknown" not in priced.find("section", id="summary").text


def test_group_page_with_runs_of_different_depths(runs_dir: Path, tmp_path: Path) -> None:
    make_run(runs_dir, "deep", group="g", seed=0, values=(0.4, 0.5, 0.6))
    make_run(runs_dir, "shallow", group="g", seed=1, values=(0.4,), status="running")
    path = html_report(load_report("g", runs_dir), tmp_path / "g.html")
    dom = parse(path.read_text(encoding="utf-8"))
    rows = dom.find("table", id="aggregate-table").find_all("tr", where=lambda n: "data-t" in n.attrs)
    assert [int(row.find_all("td")[1].attrs["data-value"]) for row in rows] == [2, 1, 1]
    assert rows[2].find_all("td")[-1].attrs["data-value"] == ""  # the shallow run has no t=2
    assert len(dom.find_all("details", cls="run")) == 2
    ids = [node.attrs["id"] for node in dom.iter() if "id" in node.attrs]
    assert len(ids) == len(set(ids)), "element ids must be unique in one page"


def test_diffs_show_what_changed(run_dir: Path) -> None:
    dom = parse(render_html(load_run_summary(run_dir)))
    t1 = dom.find("details", id="improver-t1")
    diff = t1.find("div", cls="diff").text
    assert (
        "+    beam = [initial_solution]" in diff
        and "-    best_solution = max(new_solutions, key=utility)" in diff
    )
    assert "identical to its parent" in dom.find("details", id="improver-t2").find("div", cls="diff").text
    assert "no parent" in dom.find("details", id="improver-t0").find("div", cls="diff").text
    assert t1.find("span", data_strategy="beam search")
