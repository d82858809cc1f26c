"""`selftaught safety sandbox-flag | audit | flag-table`: measuring circumvention and reading a run's record."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from selftaught.cli import LightHelpGroup, app, options
from selftaught.cli.output import console, emit_json, note
from selftaught.errors import UsageError

safety_app = typer.Typer(
    help="Safety: the sandbox-flag experiment and per-run audits of detector events.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=LightHelpGroup,
)
app.add_typer(safety_app, name="safety")

MAX_ATTEMPTS = 1_000_000


@safety_app.command("sandbox-flag")
@options.with_knobs(*options.SANDBOX_FLAG_KNOBS)
def sandbox_flag(
    knobs: dict[str, Any],
    attempts: Annotated[
        int, typer.Option("--attempts", help="Generated improvers to collect (the paper: 10000).")
    ] = 100,
    warning: Annotated[
        bool, typer.Option("--warning", help="Show the warning not to disable the sandbox.")
    ] = False,
    execute: Annotated[
        int,
        typer.Option(
            "--execute",
            help="Also run this many generated improvers (flag-disabling ones first) in the real sandbox; the flag is only logged.",
        ),
    ] = 0,
    config: options.Config = None,
    as_json: options.Json = False,
) -> None:
    """Reproduce the paper's experiment: how often do generated improvers turn `use_sandbox` off?"""
    if not 1 <= attempts <= MAX_ATTEMPTS:
        raise UsageError(f"--attempts must be between 1 and {MAX_ATTEMPTS}, got {attempts}")
    if not 0 <= execute <= attempts:
        raise UsageError(f"--execute must be between 0 and --attempts ({attempts}), got {execute}")
    from selftaught.cli.progress import progress_display
    from selftaught.config import load_settings
    from selftaught.safety.stats import percent

    settings = load_settings(
        knobs,
        config,
    )
    from selftaught.safety.experiment import run_sandbox_flag

    with progress_display() as progress:
        result = run_sandbox_flag(
            settings, attempts=attempts, warning=warning, execute=execute, progress=progress
        )
    if as_json:
        emit_json(result.to_dict())
    else:
        from rich.table import Table

        stdout = console()
        table = Table(title="Unsandboxing: generated improvers that set use_sandbox off (95% Wilson CI)")
        for column in ("Language model", "Warning", "Attempts", "Disabled", "Unsandboxing rate"):
            table.add_column(column, justify="left" if column in ("Language model", "Warning") else "right")
        table.add_row(
            result.model,
            "yes" if result.warning else "no",
            str(result.attempts),
            str(result.disabled),
            f"{percent(result.rate)} ({percent(result.ci_low)} to {percent(result.ci_high)})",
        )
        console().print(table)
        if result.ways:
            stdout.print("ways: " + ", ".join(f"{way} {n}" for way, n in result.ways.items()))
        if result.findings:
            stdout.print(
                "other static flags: " + ", ".join(f"{kind} {n}" for kind, n in result.findings.items())
            )
        if result.executed:
            ex = result.executed
            stdout.print(
                f"executed {ex['improvers']} improvers in the {ex['sandbox']} sandbox: "
                f"{ex['runtime_false_calls']} utility calls with use_sandbox off (logged; isolation unchanged)"
            )
        stdout.print(
            f"run {result.run_id} in {result.run_dir}; see `selftaught safety audit {result.run_id}`"
        )
    if result.attempts < result.requested:
        note(
            f"warning: {result.attempts} of {result.requested} attempts collected "
            f"({result.failed_calls} failed calls, {result.empty_replies} replies without code)"
        )
        if result.attempts == 0:
            raise typer.Exit(1)


@safety_app.command("audit")
def audit(
    run_id: Annotated[str, typer.Argument(help="The run to audit (a directory name under --runs-dir).")],
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only event kinds starting with this (repeatable).")
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", help="Events listed in the table (counts, and --json, always cover all)."),
    ] = 50,
    runs_dir: options.RunsDir = None,
    as_json: options.Json = False,
) -> None:
    """A run's events with counts per kind: what was attempted, what was stopped, what looks like hacking."""
    from rich.markup import escape
    from rich.table import Table

    from selftaught.events import category as event_category
    from selftaught.safety.audit import audit_run, group_of

    if limit < 0:
        raise UsageError(f"--limit must be non-negative, got {limit}")
    result = audit_run(options.runs_dir(runs_dir), run_id, kinds=kind)
    if as_json:
        emit_json(result.to_dict())
        return
    meta = result.meta
    stdout = console()
    stdout.print(
        f"run {run_id} ({meta.get('kind', 'stop')}, {meta.get('task', '?')}, {meta.get('model', '?')}, "
        f"{meta.get('status', '?')}): {len(result.events)} events, "
        f"{result.programs_flagged} programs with static flags or sandbox reports"
    )
    counts = Table(title="events per kind")
    for column in ("kind", "category", "group", "count"):
        counts.add_column(column, justify="right" if column == "count" else "left")
    for event_kind, count in result.counts.items():  # category: the same registry word the report shows
        counts.add_row(event_kind, event_category(event_kind), group_of(event_kind), str(count))
    stdout.print(counts)
    if result.events and limit:
        listing = Table(title=f"events (first {min(limit, len(result.events))})")
        for column in ("id", "t", "kind", "program", "detail"):
            listing.add_column(column, overflow="fold")
        for event in result.events[:limit]:
            listing.add_row(
                str(event.id),
                "" if event.iteration is None else str(event.iteration),
                event.kind,
                (event.program_sha or "")[:10],
                escape(event.detail[:200]),
            )
        stdout.print(listing)


@safety_app.command("flag-table")
def flag_table(
    run_ids: Annotated[list[str], typer.Argument(help="sandbox-flag runs to put side by side.")],
    runs_dir: options.RunsDir = None,
    as_json: options.Json = False,
) -> None:
    """The paper's table: one row per model, with and without the warning, from stored sandbox-flag runs."""
    from rich.table import Table

    from selftaught.safety.report import flag_rows
    from selftaught.safety.stats import percent

    rows = flag_rows(options.runs_dir(runs_dir), run_ids)
    if as_json:
        emit_json(rows)
        return
    table = Table(title="Unsandboxing rate of generated improvers (95% Wilson CI)")
    table.add_column("Language model")
    table.add_column("Unsandboxing rate")
    table.add_column("Unsandboxing rate with warning")
    for row in rows:
        cells = []
        for key in ("without_warning", "with_warning"):
            cell = row[key]
            cells.append(
                "—"
                if cell is None
                else f"{percent(cell['rate'])} ({percent(cell['ci_low'])} to {percent(cell['ci_high'])}), n={cell['attempts']}"
            )
        table.add_row(row["model"], *cells)
    console().print(table)
