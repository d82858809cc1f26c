"""`selftaught run | runs | improve | meta-eval | transfer`: the STOP commands."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from selftaught.cli import EXIT_FAILED, EXIT_INTERRUPTED, app, options
from selftaught.cli.output import console, emit_json, is_terminal, note, write_raw
from selftaught.errors import UsageError

if TYPE_CHECKING:
    from selftaught.stop import api

# Library modules (pydantic, numpy, the sandbox, the STOP layer) are imported inside each command, so
# `selftaught --help` and `selftaught tasks` start fast.


@app.command()
@options.with_knobs(*options.RUN_KNOBS)
def run(
    knobs: dict[str, Any],
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Continue RUN_ID where it stopped, with its stored settings (no finished work or answered LM call is repeated).",
        ),
    ] = None,
    config: options.Config = None,
    as_json: options.Json = False,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Also start the live view (selftaught serve, on 127.0.0.1) beside the run and print its address.",
        ),
    ] = False,
) -> None:
    """Recursive self-improvement (the main job): I_t = I_{t-1}(I_{t-1}, meta-utility, LM), T times."""
    from selftaught.cli.progress import progress_display
    from selftaught.config import load_settings
    from selftaught.stop import api

    explicit = knobs
    iterations = knobs.get("iterations")
    # On --resume the run's stored settings apply; selftaught.toml is not read again.
    if resume is not None and config is not None:
        raise UsageError(
            "--config does not apply with --resume: a resumed run keeps its stored settings "
            "(selftaught.toml is not re-read)"
        )
    settings = load_settings(explicit, config, read_file=resume is None)
    started: list[tuple[str, Path]] = []
    announced: set[str] = set()
    view = contextlib.ExitStack()  # closed when the run ends: stops the live view of --serve
    address = view.enter_context(_live_view(settings.runs_dir, serve))

    def on_start(run_id: str, path: Path, group: str | None) -> None:
        if group is not None and group not in announced:
            announced.add(group)
            note(f"group {group}: {settings.seeds} runs (report them together: selftaught report {group})")
        started.append((run_id, path))
        note(f"run {run_id} {'resumed' if resume else 'started'} in {path}")
        if address is not None:
            note(f"live view of run {run_id}: {address.split('?')[0]}runs/{run_id}")

    try:
        with view, progress_display() as progress:
            results = api.self_improve(
                settings,
                resume=resume,
                extend_to=iterations,
                resume_overrides=explicit,
                progress=progress,
                on_start=on_start,
            )
            ending = _ending(results)
            if ending is not None:
                progress.ended(ending)
    except KeyboardInterrupt:
        for run_id, path in started:
            note(
                f"interrupted: run {run_id} keeps its finished work; continue it with `{_resume(run_id, path)}`"
            )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # e.g. the preflight failed: the run exists and can be continued
        for run_id, path in started:
            exc.add_note(
                f"run {run_id} failed; fix the cause, then continue it with `{_resume(run_id, path)}`"
            )
        raise
    if as_json:
        emit_json(results[0].to_dict() if len(results) == 1 else _group_json(results))
    else:
        out = console()
        for result in results:
            _print_run(out, result, settings.prices_file, gain=len(results) == 1)
        if len(results) > 1:
            _print_group(out, results)
            out.print(_gain(results), markup=False, highlight=False, soft_wrap=True)
    stopped = [result for result in results if result.status != "completed"]
    for result in stopped:
        resume = f"`{_resume(result.run_id, result.path)}`"
        hint = (
            f"fix the model endpoint, then continue it with {resume}"
            if result.status == "failed"
            else f"continue it with {resume} (e.g. with a higher --max-cost)"
        )
        note(f"run {result.run_id} {result.status}: {result.stop_reason}; {hint}")
    if stopped:
        raise typer.Exit(EXIT_FAILED)


def _ending(results: list[api.RunResult]) -> str | None:
    """How the work ended when a run did not complete ("run failed", "1 of 3 runs stopped"), for the
    progress line; None when every run completed."""
    unfinished = [result.status for result in results if result.status != "completed"]
    if not unfinished:
        return None
    words = " or ".join(sorted(set(unfinished)))
    if len(results) == 1:
        return f"run {words}"
    return f"{len(unfinished)} of {len(results)} runs {words}"


def _live_view(runs_dir: Path, wanted: bool) -> contextlib.AbstractContextManager[str | None]:
    """`run --serve`: the live view in a child process for the run's duration (nothing without --serve);
    entering it prints and yields the view's address. Without the serve extra: one line, exit 2, before
    the run starts."""
    if not wanted:
        return contextlib.nullcontext(None)
    from selftaught.serve import EXTRA_MISSING, beside_run, extra_installed

    if not extra_installed():
        raise UsageError(EXTRA_MISSING)
    return beside_run(runs_dir, announce=note)


def _resume(run_id: str, path: Path) -> str:
    """The command that continues a run, from any working directory."""
    return f"selftaught run --resume {run_id} --runs-dir {path.parent}"


def _print_run(out: Any, result: api.RunResult, prices_file: Path | None, gain: bool = True) -> None:
    from selftaught.lm.pricing import price_known
    from selftaught.report.terminal import iterations_table, table_legend
    from selftaught.tasks.catalog import has_test_split

    known = price_known(result.model, prices_file)
    split = has_test_split(result.task)
    title = f"run {result.run_id}\n{result.task} · {result.model} · {result.status}"
    out.print(iterations_table(result.iterations, title, known, split))
    out.print(table_legend(result.model, known, split), markup=False, highlight=False, soft_wrap=True)
    if gain:
        out.print(_gain([result]), markup=False, highlight=False, soft_wrap=True)
    out.print(f"stored in {result.path}", markup=False, highlight=False)


def _gain(results: list[api.RunResult]) -> str:
    """The line ending the final table: seed improver vs the validation-selected one, on test."""
    from selftaught.report.gain import Point, gain_line
    from selftaught.tasks.catalog import has_test_split

    if len(results) == 1:
        points = [Point.of(it) for it in results[0].iterations]
    else:
        points = [
            Point(row["t"], row["meta_utility_val"], row["meta_utility_test"], row["stderr_test"])
            for row in _aggregate(results)
        ]
    return gain_line(points, test_split=has_test_split(results[0].task))


def _aggregate(results: list[api.RunResult]) -> list[dict[str, Any]]:
    """The group's rows for the table and JSON: `estimates.aggregate_iterations`, as the report's group page.

    Per iteration, over the runs that reached it (`runs` says how many); `improver_sha` is the first of
    those runs' improvers, `improver_shas` all of them in run order.
    """
    from selftaught.estimates import aggregate_iterations

    return [
        {
            "t": p.t,
            "runs": p.runs,
            "meta_utility_val": p.mean_val,
            "meta_utility_test": p.mean_test,
            "stderr_val": p.stderr_val,
            "stderr_test": p.stderr_test,
            "improver_sha": p.improver_shas[0],
            "improver_shas": list(p.improver_shas),
        }
        for p in aggregate_iterations(result.iterations for result in results)
    ]


def _group_json(results: list[api.RunResult]) -> dict[str, Any]:
    return {
        "run_id": results[0].run_id,
        "runs": [result.to_dict() for result in results],
        "iterations": _aggregate(results),
    }


def _print_group(out: Any, results: list[api.RunResult]) -> None:
    from rich.table import Table

    table = Table(title=f"{len(results)} runs: mean ± standard error")
    for column in ("t", "runs", "meta-utility val", "meta-utility test"):
        table.add_column(column, justify="right")
    for row in _aggregate(results):
        table.add_row(
            str(row["t"]),
            str(row["runs"]),
            f"{row['meta_utility_val']:.3f} ± {row['stderr_val']:.3f}",
            f"{row['meta_utility_test']:.3f} ± {row['stderr_test']:.3f}",
        )
    out.print(table)


@app.command()
def runs(
    runs_dir: options.RunsDir = None, config: options.Config = None, as_json: options.Json = False
) -> None:
    """List runs with their full ids, group, status, best validation meta-utility and that iteration's test value."""
    from selftaught.stop.runs import list_runs
    from selftaught.tasks.catalog import has_test_split

    directory = options.runs_dir(runs_dir, config)
    listings = list_runs(directory)
    if as_json:
        emit_json([listing.listing_json() for listing in listings])
        return
    if not listings:
        note(f"no runs in {directory}")
        return
    from rich.table import Table

    table = Table(title=f"runs in {directory}")
    for column in ("run", "group", "task", "model", "status", "iterations", "best val (t)", "its test"):
        table.add_column(
            column,
            no_wrap=column in ("run", "group", "status"),
            justify="right" if column in ("iterations", "best val (t)", "its test") else "left",
        )
    for item in listings:
        row = item.listing_json()
        chosen = item.selected
        best_val = "-" if chosen is None else f"{chosen.meta_utility_val:.3f} (t={chosen.t})"
        best_test = (
            "-" if chosen is None or not has_test_split(item.task) else f"{chosen.meta_utility_test:.3f}"
        )
        table.add_row(
            item.run_id,
            item.group or "-",
            item.task,
            item.model,
            item.status,
            str(row["iterations"]),
            best_val,
            best_test,
        )
    console().print(table)


@app.command()
@options.with_knobs(*options.IMPROVE_KNOBS)
def improve(
    knobs: dict[str, Any],
    task: Annotated[str, typer.Argument(help="Task name, directory or openevolve:PATH.")],
    program: Annotated[
        Path | None,
        typer.Option("--program", help="Program to improve (default: the task's seed algorithm)."),
    ] = None,
    improver: Annotated[
        str,
        typer.Option(
            "--improver", help="seed, greedy, beam, genetic, annealing, bandit, cot, islands, or FILE."
        ),
    ] = "seed",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the improved program here (the whole file, for OpenEvolve tasks too)."
        ),
    ] = None,
    config: options.Config = None,
    as_json: options.Json = False,
) -> None:
    """Run an improver once on a program and report the utility before and after.

    The improved program goes to stdout as plain text; when stdout is not a terminal it is the only
    thing written there (`selftaught improve TASK > prog.py` gives a runnable file), everything else
    goes to stderr. Exit code 1 when the improver failed (the original program is then written).
    """
    from selftaught.config import load_settings
    from selftaught.stop import api
    from selftaught.tasks.program import read_program

    settings = load_settings(
        knobs,
        config,
    )
    _check_improver(improver)
    source = read_program(program) if program is not None else None
    result = _with_status(
        f"improving with {improver}...",
        lambda: api.improve(task, program=source, improver=improver, settings=settings),
    )
    if out is not None:
        out.write_text(result.full_program or result.program, encoding="utf-8")
    if as_json:
        emit_json(result.to_dict())
    else:
        write_raw(_improve_summary(result, improver), stderr=not is_terminal(sys.stdout) or out is not None)
        if out is None:
            write_raw(result.full_program or result.program)
        else:
            note(f"wrote {out}")
    if result.error:
        note(f"improver failed: {result.error}; kept the original program")
        raise typer.Exit(EXIT_FAILED)


def _check_improver(improver: str) -> None:
    """An unknown --improver is one line naming the flag, with the close match, before any work."""
    from selftaught.improvers import load_improver

    try:
        load_improver(improver)
    except UsageError as exc:
        raise UsageError(f"--improver: {exc}") from None


def _improve_summary(result: api.ImproveResult, improver: str) -> str:
    """`improve`'s line: validation (and test, when the task has a held-out split) before -> after,
    and a word when the program handed back is worse than the one given."""
    from selftaught.tasks.catalog import has_test_split

    test = (
        f"test {result.utility_before_test:.4f} -> {result.utility_after_test:.4f}"
        if has_test_split(result.task)
        else "no test split"
    )
    line = (
        f"{result.task}: utility {result.utility_before:.4f} -> {result.utility_after:.4f} ({test}), "
        f"{result.lm_calls} LM calls, {result.utility_calls} utility calls"
    )
    if result.utility_after < result.utility_before and not result.error:
        why = (
            "the seed improver returns the best of the model's rewrites, never the program it was given "
            "(the paper's rule)"
            if improver == "seed"
            else "this improver handed it back"
        )
        line += f"; the program returned is worse than the one given on validation: {why}"
    return line


def _with_status(message: str, work: Any) -> Any:
    """Run `work()` under a spinner on a terminal (off it, silently: errors stay one line)."""
    if not is_terminal(sys.stderr):
        return work()
    with console(stderr=True).status(message):
        return work()


@app.command("meta-eval")
@options.with_knobs(*options.META_EVAL_KNOBS)
def meta_eval(
    knobs: dict[str, Any],
    improver: Annotated[str, typer.Argument(help="Improver file, or a built-in name (seed, greedy, ...).")],
    config: options.Config = None,
    as_json: options.Json = False,
) -> None:
    """Estimate an improver's meta-utility: mean downstream utility of what it returns over --tests runs."""
    from selftaught.cli.progress import progress_display
    from selftaught.config import load_settings
    from selftaught.stop import api

    settings = load_settings(
        knobs,
        config,
    )
    with progress_display() as progress:
        result = api.meta_utility(improver, settings=settings, progress=progress)
    if as_json:
        emit_json(result.to_dict())
        return
    from selftaught.tasks.catalog import has_test_split

    r = result.result
    test = (
        f"test {r.meta_utility_test:.4f} ± {r.stderr_test:.4f}" if has_test_split(r.task) else "no test split"
    )
    write_raw(
        f"{improver} on {r.task}: meta-utility val {r.meta_utility:.4f} ± {r.stderr_val:.4f}, "
        f"{test} over {len(r.tests)} tests; "
        f"{result.lm_calls} LM calls, {result.tokens_in + result.tokens_out} tokens, ${result.cost_usd:.4f}"
    )


@app.command()
@options.with_knobs(*options.TRANSFER_KNOBS)
def transfer(
    knobs: dict[str, Any],
    source: Annotated[str, typer.Argument(help="RUN_ID (its iterations' improvers) or IMPROVER.py.")],
    tasks: Annotated[
        list[str] | None,
        typer.Option("--tasks", help="Tasks to transfer to (repeatable; default: all others)."),
    ] = None,
    config: options.Config = None,
    as_json: options.Json = False,
) -> None:
    """The paper's transfer table: seed algorithm, seed improver and each improver on other tasks."""
    from selftaught.cli.progress import progress_display
    from selftaught.config import load_settings
    from selftaught.stop import api

    settings = load_settings(
        knobs,
        config,
    )
    with progress_display() as progress:
        cells = api.transfer(source, tasks=tasks, settings=settings, progress=progress)
    if as_json:
        emit_json({"source": source, "cells": [cell.to_dict() for cell in cells]})
        return
    from rich.table import Table

    labels = list(dict.fromkeys(cell.label for cell in cells))
    table = Table(title=f"transfer of {source} (test split, mean ± SE over {settings.tests} tests)")
    table.add_column("task")
    for label in labels:
        table.add_column(label, justify="right")
    for task_name in dict.fromkeys(cell.task for cell in cells):
        row = {cell.label: cell for cell in cells if cell.task == task_name}
        table.add_row(
            task_name,
            *(
                f"{row[label].mean:.3f} ± {row[label].stderr:.3f}" if label in row else "-"
                for label in labels
            ),
        )
    console().print(table)
