"""Two report sections about what a run is doing and did at the finest grain: its progress, and every
downstream program a meta-utility test produced.

Why in the report and not only in the live view: `selftaught serve` shows a run's page built from these
same sections while the run goes on, and the static report of the finished run must read the same
numbers (one view, two deliveries). Every number is in a `data-value` attribute, as elsewhere.
"""

from __future__ import annotations

from selftaught.report.code_view import escape
from selftaught.report.model import DownstreamRun, Progress, RunSummary
from selftaught.report.page import badge, num, section, table

NEWEST_EVENTS = 8
MAX_DOWNSTREAM_ROWS = 300
_PHASES = {
    "seed estimate": "estimating the seed improver's meta-utility",
    "candidates": "the improver is improving itself; its candidates are being scored",
    "estimate": "estimating the improved improver afresh",
}


def _of(value: int, total: int | None, ident: str) -> str:
    """`value of total` with both numbers in data attributes (the live view's counters)."""
    limit = "" if total is None else f" of {total}"
    return (
        f'<span id="{ident}" data-value="{value}" data-total="{"" if total is None else total}">'
        f"{value}{limit}</span>"
    )


def _candidate_points(run: RunSummary) -> int:
    """How many candidates the meta-utility plot draws (each proposed candidate with an iteration)."""
    return sum(1 for c in run.candidates if c.proposed and c.t is not None)


def progress_section(run: RunSummary) -> str:
    """Iteration / candidate / test counters, LM use against the budgets, and the newest events."""
    progress = run.progress
    if progress is None:
        return section("progress", "Progress", '<p class="muted">No progress recorded.</p>')
    totals = run.totals()
    idle = ' <span class="muted">(no step running)</span>' if progress.current_t is None else ""
    facts = [
        ("status", badge(run.status)),
        (
            "iterations stored (t=0..T)",
            _of(progress.iterations_done, progress.iterations_asked, "progress-iterations"),
        ),
        ("now computing", _now(progress)),
        (
            "candidates scored in this step",
            _of(progress.candidates_scored, progress.candidate_budget, "progress-candidates")
            + (
                f' · newest unfinished <code id="progress-candidate">{escape(progress.candidate_sha[:10])}</code>'
                if progress.candidate_sha
                else idle
            ),
        ),
        (
            "tests of the estimate in progress",
            _of(progress.tests_done, progress.tests_asked, "progress-tests") + idle,
        ),
        ("downstream tests finished", _of(progress.test_runs, None, "progress-test-runs")),
        ("candidates on the plot", _of(_candidate_points(run), None, "progress-points")),
        ("LM calls", _of(int(totals["lm_calls"]), None, "progress-lm-calls") + _per_run(progress)),
        ("tokens in + out", _of(int(totals["tokens_in"] + totals["tokens_out"]), None, "progress-tokens")),
        ("cost $", _cost(totals["cost_usd"], progress.max_cost)),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in facts)
    return section(
        "progress",
        "Progress",
        f'<table class="facts" id="progress-table">{rows}</table>' + _newest_events(run),
    )


def _now(progress: Progress) -> str:
    if progress.current_t is None:
        return f'<span id="progress-now" data-value="">nothing ({escape(progress.phase)})</span>'
    return (
        f'<span id="progress-now" data-value="{progress.current_t}" data-phase="{escape(progress.phase)}">'
        f"t={progress.current_t}: {escape(_PHASES.get(progress.phase, progress.phase))}</span>"
    )


def _per_run(progress: Progress) -> str:
    if progress.lm_call_budget is None:
        return ""
    return f' <span class="muted">(budget: {progress.lm_call_budget} per improver run)</span>'


def _cost(spent: float, cap: float | None) -> str:
    if cap is None:
        limit = "no cost cap"
    else:
        limit = f"of the {cap:.2f} cap" + (f" ({100 * spent / cap:.0f}%)" if cap > 0 else "")
    return (
        f'<span id="progress-cost" data-value="{spent!r}" data-total="{"" if cap is None else repr(cap)}">'
        f'{spent:.4f}</span> <span class="muted">{escape(limit)}</span>'
    )


def _newest_events(run: RunSummary) -> str:
    if not run.events:
        return '<p class="muted">No event recorded yet.</p>'
    newest = list(reversed(run.events[-NEWEST_EVENTS:]))
    rows = [
        f'<tr data-category="{escape(e.category)}"><td class="num">{"-" if e.iteration is None else e.iteration}</td>'
        f"<td>{escape(e.category)}</td><td><code>{escape(e.kind)}</code></td>"
        f'<td class="reason">{escape(e.detail)}</td></tr>'
        for e in newest
    ]
    return f"<p>Newest events ({len(newest)} of {len(run.events)}):</p>" + table(
        ["t", "category", "kind", "detail"], rows, ident="newest-events", numeric={0}
    )


def downstream_id(program_sha: str) -> str:
    return f"program-{program_sha[:12]}"


def downstream_section(run: RunSummary) -> str:
    """Every downstream test, newest first: the improver tested, the program it returned (code below),
    validation and test utility, and why the improver run failed when it did."""
    if not run.downstream:
        return section("downstream", "Downstream programs", '<p class="muted">No test has finished yet.</p>')
    shown = list(reversed(run.downstream))[:MAX_DOWNSTREAM_ROWS]
    rows = [_downstream_row(item) for item in shown]
    more = (
        f'<p class="muted">{len(run.downstream) - len(shown)} older tests not shown (use --format json).</p>'
        if len(run.downstream) > len(shown)
        else ""
    )
    codes = []
    seen: set[str] = set()
    for item in shown:
        if item.program_sha is None or item.source is None or item.program_sha in seen:
            continue
        seen.add(item.program_sha)
        codes.append(
            f'<details class="program" id="{downstream_id(item.program_sha)}" data-sha="{escape(item.program_sha)}">'
            f"<summary>program <code>{escape(item.program_sha[:10])}</code> val {item.utility_val:.4f}</summary>"
            f'<pre class="code">{escape(item.source)}</pre></details>'
        )
    body = (
        f'<p class="muted">{len(run.downstream)} tests: each improver run on the task\'s seed algorithm '
        "returns a program, scored on validation and test; a failed run scores 0 and says why.</p>"
        + table(
            [
                "context",
                "improver",
                "test",
                "program",
                "val",
                "test",
                "LM calls",
                "utility calls",
                "wall s",
                "failure",
            ],
            rows,
            ident="downstream-table",
            numeric={2, 4, 5, 6, 7, 8},
        )
        + more
        + (
            f"<details><summary>code of {len(codes)} programs</summary>{''.join(codes)}</details>"
            if codes
            else ""
        )
    )
    return section("downstream", "Downstream programs", body)


def _downstream_row(item: DownstreamRun) -> str:
    program = (
        f'<a href="#{downstream_id(item.program_sha)}"><code>{escape(item.program_sha[:10])}</code></a>'
        if item.program_sha and item.source is not None
        else (
            f"<code>{escape(item.program_sha[:10])}</code>"
            if item.program_sha
            else '<span class="muted">none</span>'
        )
    )
    failed = ' data-failed=""' if item.error is not None else ""
    return (
        f'<tr data-t="{"" if item.t is None else item.t}" data-sha="{escape(item.improver_sha)}"{failed}>'
        f"<td>{escape(item.context)}</td><td><code>{escape(item.improver_sha[:10])}</code></td>"
        f"{num(item.test_index)}<td>{program}</td>{num(item.utility_val)}{num(item.utility_test)}"
        f"{num(item.lm_calls)}{num(item.utility_calls)}{num(item.wall_seconds, 1)}"
        f'<td class="reason">{escape(item.error or "")}</td></tr>'
    )
