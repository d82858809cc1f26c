"""The live view's pages: the report's own sections inside a shell that links its CSS and scripts.

Why a shell apart from `report.page.document`: a report file inlines its CSS and script (it must open
anywhere), while the live view's Content-Security-Policy forbids inline script, so the same sections are
wrapped with `<link>`/`<script src>` to `/assets/` instead. The body of a page is also served alone
(`.../body`), so the page's script can swap in a newer body without reloading the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from selftaught._version import __version__
from selftaught.report.code_view import escape
from selftaught.report.model import RunSummary
from selftaught.report.page import badge, mean_se, num, section, table

ASSETS = ("/assets/report.css", "/assets/report.js", "/assets/live.js")
POLL_SECONDS = 1.0


def head(subtitle: str, warnings: Sequence[str]) -> str:
    """The part of the header that changes with the run (status badge, warnings)."""
    notes = "".join(f'<div class="warning" role="status">{escape(text)}</div>' for text in warnings)
    return f'<div id="live-head"><div class="sub">{subtitle}</div>{notes}</div>'


def page(
    title: str,
    head_html: str,
    nav: Sequence[tuple[str, str]],
    main_html: str,
    *,
    kind: str,
    version: str,
    version_url: str,
    body_url: str,
) -> str:
    """A whole live page; its script polls `version_url` and fetches `body_url` when the version moves."""
    links = "".join(f'<a href="#{escape(ident)}">{escape(label)}</a>' for ident, label in nav)
    css, report_js, live_js = ASSETS
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="{css}"></head>'
        f'<body data-report="{escape(kind)}" data-live="1" data-version="{escape(version)}" '
        f'data-version-url="{escape(version_url)}" data-body-url="{escape(body_url)}" '
        f'data-poll-seconds="{POLL_SECONDS}">'
        f'<header class="top"><p class="muted"><a href="/">all runs</a> · '
        f'<span id="live-state" class="live">live</span></p><h1>{escape(title)}</h1>{head_html}</header>'
        f'<nav class="toc">{links}</nav>{main(main_html, version)}'
        f"<footer>selftaught {escape(__version__)} live view (read-only; updates as the run commits).</footer>"
        f'<script src="{report_js}"></script><script src="{live_js}"></script></body></html>\n'
    )


def main(main_html: str, version: str) -> str:
    return f'<main data-version="{escape(version)}">{main_html}</main>'


def body(head_html: str, main_html: str, version: str) -> str:
    """The changing parts of a page, as a document the page's script parses and swaps in."""
    return f'<!DOCTYPE html>\n<html lang="en"><body>{head_html}{main(main_html, version)}</body></html>\n'


def run_link(run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def group_link(group_id: str) -> str:
    return f"/groups/{quote(group_id, safe='')}"


def _now(run: RunSummary) -> str:
    progress = run.progress
    if progress is None or progress.current_t is None:
        return "<td>-</td>"
    text = f"t={progress.current_t} {progress.phase}"
    if progress.phase == "candidates":
        limit = f"/{progress.candidate_budget}" if progress.candidate_budget is not None else ""
        text += f" {progress.candidates_scored}{limit}"
    return f"<td>{escape(text)}</td>"


def _run_row(run: RunSummary) -> str:
    best = run.best
    totals = run.totals()
    asked = run.progress.iterations_asked if run.progress is not None else None
    done = len(run.iterations)
    iterations = (
        f'<td class="num" data-value="{done}" data-total="{"" if asked is None else asked}">'
        f"{done}{'' if asked is None else f' / {asked}'}</td>"
    )
    return (
        f'<tr data-run="{escape(run.run_id)}"><td><a href="{escape(run_link(run.run_id))}">{escape(run.run_id)}</a></td>'
        f"<td>{badge(run.status)}</td><td>{escape(run.task)}</td><td>{escape(run.model)}</td>{iterations}{_now(run)}"
        + (
            mean_se(best.meta_utility_val, best.stderr_val)
            if best
            else '<td class="num" data-value="">-</td>'
        )
        + (
            mean_se(best.meta_utility_test, best.stderr_test)
            if best
            else '<td class="num" data-value="">-</td>'
        )
        + f"{num(int(totals['lm_calls']))}{num(totals['cost_usd'])}</tr>"
    )


_HEADERS = [
    "run",
    "status",
    "task",
    "model",
    "iterations done / asked (t=0..T)",
    "now",
    "best val",
    "its test",
    "LM calls",
    "cost $",
]


def runs_index(runs: Sequence[RunSummary], problems: Sequence[str] = ()) -> str:
    """Every run, the runs of one `--seeds N` invocation together under their group's link."""
    if not runs:
        return section(
            "runs", "Runs", '<p class="muted">No run yet: start one with <code>selftaught run</code>.</p>'
        )
    groups: dict[str | None, list[RunSummary]] = {}
    for run in runs:
        groups.setdefault(run.group, []).append(run)
    blocks = []
    for group, members in groups.items():
        rows = [_run_row(run) for run in members]
        ident = "runs-table" if group is None else f"group-{group}"
        title = (
            ""
            if group is None
            else f'<h3 class="group" data-group="{escape(group)}">group <a href="{escape(group_link(group))}">'
            f"{escape(group)}</a> ({len(members)} runs)</h3>"
        )
        blocks.append(title + table(_HEADERS, rows, ident=ident, numeric={4, 6, 7, 8, 9}))
    notes = "".join(f'<div class="warning">{escape(text)}</div>' for text in problems)
    return section(
        "runs",
        "Runs",
        notes
        + '<p class="muted">Best val: the iteration with the highest validation meta-utility (± SE over '
        "tests), and its test value.</p>" + "".join(blocks),
    )
