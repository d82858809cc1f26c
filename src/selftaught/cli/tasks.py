"""`selftaught tasks | eval | new-task`: list tasks, score a program file, scaffold a task directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from selftaught.cli import app
from selftaught.errors import UsageError
from selftaught.tasks import Evaluation, Task, is_paper_task, list_tasks, load_task, new_task, read_program
from selftaught.tasks.protocol import PAPER_TEST_SEED, check_protocol

stdout = Console()
stderr = Console(stderr=True)

SANDBOX_MODES = ("strong", "weak")


def _emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def _task_summary(task: Task) -> dict[str, Any]:
    return {
        "name": task.name,
        "description": task.description,
        "entry_point": task.entry_point,
        "signature": task.signature,
        "instance_timeout": task.instance_timeout,
        "instances": dict(task.n_instances),
        "failure_value": task.failure_value,
        "paper": is_paper_task(task),
    }


@app.command("tasks")
def tasks_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """List the built-in tasks: the paper's six, then ours beyond it (any task directory works too)."""
    tasks = list_tasks()
    if as_json:
        _emit_json([_task_summary(task) for task in tasks])
        return
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("task", no_wrap=True)
    table.add_column("from", no_wrap=True)
    table.add_column("val/test", no_wrap=True)
    table.add_column("limit", no_wrap=True)
    table.add_column("description")
    for task in tasks:
        counts = f"{task.n_instances['val']}/{task.n_instances['test']}"
        origin = "paper" if is_paper_task(task) else "beyond"
        table.add_row(task.name, origin, counts, f"{task.instance_timeout:g} s", task.description)
    stdout.print(table)


@app.command("eval")
def eval_command(
    task: Annotated[str, typer.Argument(help="Built-in task name, a task directory, or openevolve:PATH.")],
    program: Annotated[Path, typer.Argument(help="Python file defining the task's entry point.")],
    split: Annotated[str, typer.Option("--split", help="val (the paper's fixed seeds) or test (secret seed).")] = "val",
    test_seed: Annotated[int | None, typer.Option("--test-seed", help="Fix the test-split seed (default: a fresh secret one).")] = None,
    sandbox: Annotated[str, typer.Option("--sandbox", help="strong (default) or weak (fewer layers, logged loudly).")] = "strong",
    executor: Annotated[str, typer.Option("--executor", help="local (default) or ray.")] = "local",
    ray_address: Annotated[str, typer.Option("--ray-address", help="Ray cluster address (default: auto).")] = "auto",
    protocol: Annotated[str, typer.Option("--protocol", help="strict (default) or paper: the original code's instances, public test seeds and scoring (docs/tasks.md).")] = "strict",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every instance (and add per_instance to JSON).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Score PROGRAM on TASK in the sandbox: mean instance score, failures, and why they failed."""
    if split not in ("val", "test"):
        raise UsageError(f"--split must be 'val' or 'test', got {split!r}")
    if sandbox not in SANDBOX_MODES:
        raise UsageError(f"--sandbox must be 'strong' or 'weak', got {sandbox!r}")
    if test_seed is not None and split != "test":
        raise UsageError("--test-seed only applies with --split test")
    loaded = load_task(task, check_protocol(protocol))
    if split == "test" and test_seed is None and protocol == "paper":
        test_seed = PAPER_TEST_SEED  # the original code's public test seeds
    source = read_program(program)
    problem = loaded.check_program(source)
    if problem is not None:
        raise UsageError(f"{program}: {problem}")
    if executor not in ("local", "ray"):
        raise UsageError(f"--executor must be 'local' or 'ray', got {executor!r}")
    from selftaught.config import Settings
    from selftaught.executors import make_executor

    pool = make_executor(Settings(sandbox="weak" if sandbox == "weak" else "strong",
                                  executor="ray" if executor == "ray" else "local", ray_address=ray_address))
    try:
        with stderr.status(f"evaluating {program.name} on {loaded.name} ({split})..."):
            evaluation = loaded.evaluate(source, split=split, seed=test_seed, executor=pool)
    finally:
        pool.close()
    if as_json:
        _emit_json(evaluation.to_dict(verbose=verbose))
        return
    _print_evaluation(evaluation, verbose)


def _print_artifacts(artifacts: dict[str, str], verbose: bool) -> None:
    """What an OpenEvolve evaluator said besides numbers (errors, its prints, its artifacts)."""
    if artifacts and not verbose:
        stdout.print(f"evaluator artifacts: {', '.join(artifacts)} (--verbose shows them)")
    for name, text in artifacts.items() if verbose else ():
        stdout.print(f"[bold]{name}:[/]", markup=True)
        stdout.print(text, markup=False, highlight=False)


def _print_evaluation(evaluation: Evaluation, verbose: bool) -> None:
    stdout.print(
        f"[bold]{evaluation.task}[/] ({evaluation.split}, seed {evaluation.seed}): "
        f"utility [bold]{evaluation.utility:.4f}[/] over {evaluation.instances} instances, "
        f"{evaluation.failures} failed, {evaluation.wall_seconds:.2f} s"
    )
    if evaluation.metrics:
        figures = ", ".join(f"{key} {value:.6g}" for key, value in evaluation.metrics.items())
        stdout.print(f"mean over instances: {figures}")
    for kind, detail in evaluation.events:
        stdout.print(f"[yellow]{kind}:[/] {detail}")
    if evaluation.setup_error:
        stdout.print(f"[red]setup error:[/] {evaluation.setup_error}")
    _print_artifacts(getattr(evaluation, "artifacts", None) or {}, verbose)
    failed = [item for item in evaluation.per_instance if item.error is not None]
    rows = evaluation.per_instance if verbose else failed[:5]
    if not rows:
        return
    table = Table(show_header=True, header_style="bold", box=None)
    for column in ("#", "score", "seconds", "error"):
        table.add_column(column)
    for item in rows:
        table.add_row(str(item.index), f"{item.score:.4f}", f"{item.seconds:.4f}", item.error or "")
    stdout.print(table)
    if not verbose and len(failed) > len(rows):
        stdout.print(f"... {len(failed) - len(rows)} more failed instances (use --verbose)")


@app.command("new-task")
def new_task_command(
    name: Annotated[str, typer.Argument(help="Task name: lowercase letters, digits and underscores.")],
    directory: Annotated[Path, typer.Option("--dir", help="Parent directory of the new task directory.")] = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Scaffold a task directory (a small subset-sum example) that works at once with `selftaught eval`."""
    created = new_task(name, directory)
    if as_json:
        _emit_json({"task": name, "directory": str(created)})
        return
    stdout.print(f"created {created}/ (task.toml, seed.py, utility.py, scorer.py)")
    stdout.print(f"try: selftaught eval {created} {created / 'seed.py'}")
