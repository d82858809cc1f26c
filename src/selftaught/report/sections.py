"""The sections of a run's report, each a function from plain data to an HTML fragment.

Why fragments: the single-run page, the group page (one collapsible block per run) and `compare` reuse
the same sections, so a table looks and reads the same wherever it appears. `prefix` keeps element ids
unique when one page holds several runs.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from selftaught.estimates import STATUS_MEANINGS
from selftaught.report.code_view import code_tabs, escape
from selftaught.report.model import Candidate, Event, RunSummary
from selftaught.report.page import badge, cost, figure, mean_se, num, section, table, when
from selftaught.report.plots import budget_svg, run_curve_svg, usage_svg
from selftaught.report.strategies import STRATEGIES

MAX_EVENT_ROWS = 400
ZERO_MARK = ' data-zero=""'
_RUN_FLAGS = (
    "task",
    "iterations",
    "tests",
    "model",
    "improver",
    "seeds",
    "seed",
    "test_seed",
    "responses_per_call",
    "lm_calls",
    "utility_budget",
    "improver_timeout",
    "sandbox",
    "max_tokens",
    "max_cost",
)


def iterations_table(run: RunSummary, prefix: str = "") -> str:
    rows = []
    best = run.best
    labels = run.status_labels()
    for it in run.iterations:
        mark = " ★" if best is not None and it.t == best.t else ""
        rows.append(
            f'<tr data-t="{it.t}"><td class="num">{it.t}{mark}</td><td>{badge(labels[it.t])}</td>'
            f"{mean_se(it.meta_utility_val, it.stderr_val)}{mean_se(it.meta_utility_test, it.stderr_test)}"
            f"{num(it.lm_calls)}{num(it.tokens_in)}{num(it.tokens_out)}{cost(it.cost_usd, run.price_known)}"
            f"{num(it.wall_seconds, 1)}"
            f"<td><code>{escape(it.improver_sha[:10])}</code></td><td>{escape(it.note or '')}</td></tr>"
        )
    if not rows:
        return '<p class="muted">No iteration has finished yet.</p>'
    headers = [
        "t",
        "status",
        "meta-utility val",
        "meta-utility test",
        "LM calls",
        "tokens in",
        "tokens out",
        "cost $",
        "wall s",
        "improver",
        "note",
    ]
    return table(headers, rows, ident=f"{prefix}iterations-table", numeric={0, 2, 3, 4, 5, 6, 7, 8})


def summary_section(run: RunSummary) -> str:
    totals = run.totals()
    best = run.best
    facts = [
        ("status", badge(run.status)),
        ("task", escape(run.task)),
        ("model", escape(run.model)),
        (
            "self-improvement steps",
            f"{run.steps}"
            + (f" of {run.planned_iterations}" if run.planned_iterations is not None else "")
            + " (t=0 is the seed improver)",
        ),
        (
            "best (validation)",
            "-"
            if best is None
            else f"t={best.t}: val {best.meta_utility_val:.4f} ± {best.stderr_val:.4f}, "
            f"test {best.meta_utility_test:.4f} ± {best.stderr_test:.4f}",
        ),
        (
            "LM calls / tokens / cost",
            f"{totals['lm_calls']:.0f} calls, "
            f"{totals['tokens_in'] + totals['tokens_out']:.0f} tokens, "
            + (
                f"${totals['cost_usd']:.4f}"
                if run.price_known
                else "cost unknown (no price for this model; give it with --prices-file)"
            ),
        ),
        ("wall time of iterations", f"{totals['wall_seconds']:.1f} s"),
    ]
    facts_rows = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in facts)
    body = (
        f'<table class="facts" id="facts">{facts_rows}</table>'
        '<p class="muted">Meta-utility: mean downstream utility of what the improver returns, ± standard '
        "error over tests. ★ marks the iteration validation selects (the earliest on a tie). "
        + "; ".join(
            f"<em>{escape(word)}</em>: {escape(meaning)}" for word, meaning in STATUS_MEANINGS.items()
        )
        + " (each kept iteration's note says why).</p>"
        + iterations_table(run)
    )
    return section("summary", "Summary", body)


def candidate_id(prefix: str, sha: str) -> str:
    return f"{prefix}candidate-{sha[:12]}"


def curves_section(run: RunSummary) -> str:
    caption = (
        "Validation (solid) and test (dashed) meta-utility per iteration, bands ± standard error over "
        "tests; grey points are every candidate improver scored during the step that produced t; red "
        "crosses at the bottom are candidates that scored zero (drawn apart, not to scale)."
    )
    candidates = [c for c in run.candidates if c.proposed]
    rows = [
        f'<tr data-t="{c.t}" data-sha="{escape(c.improver_sha)}"{ZERO_MARK if c.value_val == 0 else ""}>'
        f'<td class="num">{c.t}</td><td><a href="#{candidate_id("", c.improver_sha)}"><code>'
        f"{escape(c.improver_sha[:10])}</code></a></td>"
        f"{mean_se(c.value_val, c.stderr_val)}{mean_se(c.value_test, c.stderr_test)}{num(c.tests)}"
        f'<td class="reason">{escape(c.failure or "")}</td></tr>'
        for c in candidates
    ]
    listing = ""
    if rows:
        listing = (
            f"<details><summary>{len(rows)} candidate estimates (code and failure reasons)</summary>"
            + table(
                ["t", "improver", "val", "test", "tests", "failure"],
                rows,
                ident="candidates-table",
                numeric={0, 2, 3, 4},
            )
            + candidate_code(candidates, parents=parent_sources(run))
            + "</details>"
        )
    return section(
        "curves", "Meta-utility per iteration", figure(run_curve_svg(run), "meta-utility", caption) + listing
    )


def parent_sources(run: RunSummary) -> dict[int, tuple[str, str]]:
    """t -> (sha, source) of the improver that proposed step t's candidates (iteration t-1's)."""
    return {imp.t + 1: (imp.sha, imp.source) for imp in run.improvers if imp.source is not None}


def candidate_code(
    candidates: Sequence[Candidate], prefix: str = "", parents: dict[int, tuple[str, str]] | None = None
) -> str:
    """One collapsible block per distinct candidate: why its runs failed (if they did), its code and its
    diff against the improver that proposed it (`parents`: t -> (sha, source), see `parent_sources`)."""
    blocks = []
    seen: set[str] = set()
    for c in candidates:
        if c.improver_sha in seen:
            continue
        seen.add(c.improver_sha)
        reason = (
            f'<p class="warning reason">{escape(c.failure)}</p>'
            if c.failure
            else (
                '<p class="warning reason">scored zero without a failed run (its programs scored 0)</p>'
                if c.value_val == 0
                else ""
            )
        )
        parent = (parents or {}).get(c.t) if c.t is not None else None
        code = (
            code_tabs(c.source, parent, f"candidate {c.improver_sha[:8]}")
            if c.source is not None
            else '<p class="warning">code missing from the store</p>'
        )
        blocks.append(
            f'<details class="candidate" id="{candidate_id(prefix, c.improver_sha)}" '
            f'data-sha="{escape(c.improver_sha)}"><summary>candidate <code>{escape(c.improver_sha[:10])}'
            f"</code> (t={c.t}) val {c.value_val:.4f}</summary>{reason}{code}</details>"
        )
    return "".join(blocks)


def usage_section(run: RunSummary) -> str:
    runs_by_t = {item.iteration: item for item in run.improver_runs}
    rows = []
    for usage in run.lm_usage:
        improver_runs = runs_by_t.get(usage.iteration)
        label = "-" if usage.iteration is None else str(usage.iteration)
        rows.append(
            f'<tr data-t="{label}"><td class="num">{label}</td>{num(usage.calls)}{num(usage.cached)}'
            f"{num(usage.responses)}{num(usage.tokens_in)}{num(usage.tokens_out)}{cost(usage.cost_usd, run.price_known)}"
            f"{num(usage.latency_s, 1)}{num(usage.errors)}"
            f"{num(improver_runs.runs if improver_runs else 0)}{num(improver_runs.failed if improver_runs else 0)}</tr>"
        )
    headers = [
        "t",
        "LM calls",
        "cached replays",
        "responses",
        "tokens in",
        "tokens out",
        "cost $",
        "LM latency s",
        "LM errors",
        "improver runs",
        "failed runs",
    ]
    body = (
        table(headers, rows, ident="usage-table", numeric=set(range(11)))
        if rows
        else '<p class="muted">No LM call recorded yet.</p>'
    )
    if run.iterations:
        body += figure(usage_svg(run), "usage", "Tokens and wall time per iteration.")
    return section("usage", "LM calls, tokens, cost and time", body)


def events_section(run: RunSummary) -> str:
    """Events grouped by kind (count, iterations, one example), then every event in a collapsible list."""
    if not run.events:
        return section("events", "Budget and safety events", '<p class="muted">No event recorded.</p>')
    counts: dict[str, int] = {}
    grouped: dict[str, list[Event]] = {}
    for event in run.events:
        counts[event.category] = counts.get(event.category, 0) + 1
        grouped.setdefault(event.kind, []).append(event)
    summary = " ".join(
        f'<span class="chip" data-category="{escape(k)}" data-count="{v}">{escape(k)}: {v}</span>'
        for k, v in sorted(counts.items())
    ) + (
        '<p class="muted">expected: failures every normal run has (generated programs whose outputs '
        "were rejected by validation, candidate improvers that failed and were not adopted, evaluations "
        "stopped early by the cascade); failure and safety: worth a look.</p>"
    )
    kind_rows = []
    for kind, events in sorted(grouped.items(), key=lambda item: (item[1][0].category, -len(item[1]))):
        iterations = sorted({e.iteration for e in events if e.iteration is not None})
        kind_rows.append(
            f'<tr data-kind="{escape(kind)}"><td>{escape(events[0].category)}</td><td><code>{escape(kind)}</code></td>'
            f"{num(len(events))}<td>{escape(', '.join(map(str, iterations)) or '-')}</td>"
            f"<td>{escape(events[0].detail)}</td></tr>"
        )
    rows = [
        f'<tr data-category="{escape(e.category)}"><td class="num">{"-" if e.iteration is None else e.iteration}</td>'
        f"<td>{escape(e.category)}</td><td><code>{escape(e.kind)}</code></td><td>{escape(e.detail)}</td>"
        f"<td><code>{escape((e.program_sha or '')[:10])}</code></td></tr>"
        for e in run.events[:MAX_EVENT_ROWS]
    ]
    more = (
        f'<p class="muted">{len(run.events) - MAX_EVENT_ROWS} more events not shown '
        "(use --format json for all).</p>"
        if len(run.events) > MAX_EVENT_ROWS
        else ""
    )
    body = (
        f"<p>{summary}</p>"
        + table(
            ["category", "kind", "count", "iterations", "example"],
            kind_rows,
            ident="event-kinds",
            numeric={2},
        )
        + f"<details><summary>all {len(run.events)} events</summary>"
        + table(["t", "category", "kind", "detail", "program"], rows, ident="events-table", numeric={0})
        + more
        + "</details>"
    )
    return section("events", "Budget and safety events", body)


def short_label(run: RunSummary) -> str:
    """ "seed 3" inside a group (run ids are long); the run id when the seed is unknown."""
    return f"seed {run.seed}" if run.seed is not None else run.run_id


def strategies_table(runs: Sequence[RunSummary]) -> str:
    """Improvers × strategies: ✓ where a rule fired (hover for evidence)."""
    names = list(STRATEGIES)
    rows = []
    for run in runs:
        for improver in run.improvers:
            hits = {hit.strategy: hit for hit in improver.strategies}
            lm = set(improver.lm_strategies or ())
            cells = "".join(
                f'<td class="num" data-strategy="{escape(name)}" title="{escape(chr(10).join(hits[name].evidence))}">'
                f"✓{' LM' if name in lm else ''}</td>"
                if name in hits
                else (
                    f'<td class="num" data-lm-strategy="{escape(name)}">LM</td>'
                    if name in lm
                    else '<td class="num"></td>'
                )
                for name in names
            )
            label = f"{short_label(run)} · " if len(runs) > 1 else ""
            rows.append(
                f'<tr data-t="{improver.t}"><td class="nowrap" title="{escape(run.run_id)}">{escape(label)}t={improver.t}</td>'
                f"<td>{badge(improver.status)}</td>{cells}</tr>"
            )
    return table(
        ["improver", "status", *names], rows, ident="strategies-table", numeric=set(range(2, 2 + len(names)))
    )


def strategies_section(runs: Sequence[RunSummary], counts: dict[str, int] | None = None) -> str:
    legend = "".join(
        f"<li><strong>{escape(name)}</strong>: {escape(text)}</li>" for name, text in STRATEGIES.items()
    )
    body = ""
    if counts is not None:
        rows = [
            f'<tr data-strategy="{escape(name)}"><td>{escape(name)}</td>{num(count)}</tr>'
            for name, count in counts.items()
        ]
        body += "<p>Distinct improved improvers showing each strategy, over all runs:</p>" + table(
            ["strategy", "improvers"], rows, ident="strategy-counts", numeric={1}
        )
    body += strategies_table(runs)
    body += (
        f'<details><summary>How strategies are detected</summary><ul>{legend}</ul><p class="muted">Static '
        "rules on each improver's syntax tree (prompt text and comments are ignored); the exact rules are "
        "in docs/report.md. Hover a ✓ for the source lines that triggered it. “LM” marks a strategy an LM "
        "named with <code>report --model</code> (not verified by the rules).</p></details>"
    )
    return section("strategies", "Detected strategies", body)


def transfer_section(run: RunSummary) -> str:
    if not run.transfers:
        body = (
            f'<p class="muted">No transfer results are stored in this run. '
            f"<code>selftaught transfer {escape(run.run_id)}</code> computes the table for its improvers.</p>"
        )
        return section("transfer", "Transfer", body)
    labels = list(dict.fromkeys(cell.label for cell in run.transfers))
    tasks = list(dict.fromkeys(cell.task for cell in run.transfers))
    cells = {(cell.task, cell.label): cell for cell in run.transfers}
    rows = []
    for task in tasks:
        row = "".join(
            mean_se(cells[(task, label)].mean, cells[(task, label)].stderr, 3)
            if (task, label) in cells
            else '<td class="num">-</td>'
            for label in labels
        )
        rows.append(f'<tr data-task="{escape(task)}"><td>{escape(task)}</td>{row}</tr>')
    body = (
        '<p class="muted">Test-split utility of the seed algorithm, and test meta-utility of the seed '
        "improver and each iteration's improver on tasks it was not trained on (mean ± SE).</p>"
        + table(["task", *labels], rows, ident="transfer-table", numeric=set(range(1, len(labels) + 1)))
    )
    return section("transfer", "Transfer", body)


def reproduce_command(run: RunSummary) -> str:
    """An explicit `selftaught run` command with the stored configuration's values."""
    parts = ["selftaught", "run"]
    config: dict[str, Any] = run.config
    for key in _RUN_FLAGS:
        value = config.get(key)
        if value is None or (key == "seeds" and value == 1):
            continue
        parts += [f"--{key.replace('_', '-')}", str(value)]
    return " ".join(shlex.quote(part) for part in parts)


def config_section(run: RunSummary) -> str:
    facts = [
        ("run id", run.run_id),
        ("path", str(run.path)),
        ("status", run.status),
        ("model", run.model),
        ("selftaught version", run.version or "-"),
        ("group", run.group or "-"),
        ("seed", "-" if run.seed is None else str(run.seed)),
        ("started", when(run.started)),
        ("finished", when(run.finished)),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    config_rows = [
        f"<tr><td><code>{escape(k)}</code></td><td><code>{escape(v)}</code></td></tr>"
        for k, v in sorted(run.config.items())
    ]
    body = (
        f"<table>{rows}</table>"
        f'<p>Command as typed:</p><pre class="cmd" id="command">{escape(run.command or "(not recorded)")}</pre>'
        f"<p>Equivalent explicit command (every setting from the stored configuration):</p>"
        f'<pre class="cmd" id="reproduce">{escape(reproduce_command(run))}</pre>'
        + (
            table(["setting", "value"], config_rows, ident="config-table")
            if config_rows
            else '<p class="muted">No configuration stored.</p>'
        )
    )
    return section("config", "Configuration and reproduction", body)


def budget_section(run: RunSummary) -> str:
    """Score vs budget per iteration's improver: the plot and every point of it (exact values in data-*)."""
    if not run.budget_curves:
        note = (
            (
                "No utility call with a recorded LM budget: the run has no finished meta-utility test yet, or "
                "its store predates budget records (schema 3)."
            )
            if run.iterations
            else "No iteration finished yet."
        )
        return section("budget", "Score vs budget", f'<p class="muted">{escape(note)}</p>')
    caption = (
        "For each iteration's improver: at each number of LM calls its improver run had spent, the best "
        "validation utility its utility calls had found so far, mean over its meta-utility tests (from the "
        "first budget at which every test had made a call)."
    )
    rows = []
    for curve in run.budget_curves:
        for spent, best in zip(curve.lm_calls, curve.best, strict=True):
            rows.append(
                f'<tr data-t="{curve.t}" data-sha="{escape(curve.improver_sha)}"><td class="num">{curve.t}'
                f"</td>{num(spent)}{num(best)}{num(curve.tests)}</tr>"
            )
    labels = run.status_labels()  # the words of the run table, not the stored status
    ends = "".join(
        f'<tr data-t="{curve.t}"><td class="num">{curve.t}</td><td>{badge(labels.get(curve.t, curve.status))}</td>{num(curve.tests)}'
        f'<td class="num" data-value="{",".join(repr(v) for v in curve.run_best)}">'
        f"{', '.join(f'{v:.4f}' for v in curve.run_best)}</td>"
        f'<td class="num" data-value="{",".join(str(n) for n in curve.run_calls)}">'
        f"{', '.join(str(n) for n in curve.run_calls)}</td></tr>"
        for curve in run.budget_curves
    )
    body = (
        figure(budget_svg(run), "score-vs-budget", caption)
        + table(
            ["t", "status", "tests", "best per test", "utility calls per test"],
            [ends],
            ident="budget-runs-table",
            numeric={0, 2, 3, 4},
        )
        + f"<details><summary>{len(rows)} points of the curves</summary>"
        + table(
            ["t", "LM calls spent", "best utility so far (mean)", "tests"],
            rows,
            ident="budget-table",
            numeric={0, 1, 2, 3},
        )
        + "</details>"
    )
    return section("budget", "Score vs budget", body)
