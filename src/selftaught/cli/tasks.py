"""`selftaught tasks | eval | new-task`: list tasks, score a program file, scaffold a task directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from selftaught.cli import app
from selftaught.cli.output import console, emit_json, is_terminal, plain_table, write_raw
from selftaught.defaults import KNOBS, check_value
from selftaught.errors import UsageError

if TYPE_CHECKING:
    from selftaught.tasks import Evaluation


def _choice(name: str, value: str, flag: str) -> str:
    try:
        return str(check_value(KNOBS[name], value, flag))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@app.command("tasks")
def tasks_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """List the built-in tasks: the paper's six, then ours beyond it (any task directory works too)."""
    from selftaught.tasks.catalog import builtin_infos

    tasks = builtin_infos()
    if as_json:
        emit_json([task.to_dict() for task in tasks])
        return
    rows = [
        [
            task.name,
            "paper" if task.paper else "beyond",
            f"{task.n_instances['val']}/{task.n_instances['test']}",
            f"{task.instance_timeout:g} s",
            task.description,
        ]
        for task in tasks
    ]
    write_raw(plain_table(["task", "from", "val/test", "limit", "description"], rows))
    caveats = [f"  {task.name}: {task.caveat}" for task in tasks if task.caveat]
    if caveats:
        write_raw("\ncaveats:\n" + "\n".join(caveats) + "\n")


@app.command("eval")
def eval_command(
    task: Annotated[str, typer.Argument(help="Built-in task name, a task directory, or openevolve:PATH.")],
    program: Annotated[Path, typer.Argument(help="Python file defining the task's entry point.")],
    split: Annotated[
        str, typer.Option("--split", help="val (the paper's fixed seeds) or test (secret seed).")
    ] = "val",
    test_seed: Annotated[
        int | None, typer.Option("--test-seed", help="Fix the test-split seed (default: a fresh secret one).")
    ] = None,
    sandbox: Annotated[str, typer.Option("--sandbox", help=KNOBS["sandbox"].flag_help())] = KNOBS[
        "sandbox"
    ].default,
    executor: Annotated[str, typer.Option("--executor", help=KNOBS["executor"].flag_help())] = KNOBS[
        "executor"
    ].default,
    ray_address: Annotated[str, typer.Option("--ray-address", help=KNOBS["ray_address"].flag_help())] = KNOBS[
        "ray_address"
    ].default,
    protocol: Annotated[str, typer.Option("--protocol", help=KNOBS["protocol"].flag_help())] = KNOBS[
        "protocol"
    ].default,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show every instance (and add per_instance to JSON).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Score PROGRAM on TASK in the sandbox: mean instance score, failures, and why they failed."""
    from selftaught.defaults import suggest
    from selftaught.tasks import load_task, read_program
    from selftaught.tasks.catalog import NO_TEST_SPLIT, has_test_split

    if split not in ("val", "test"):
        raise UsageError(f"--split must be one of val, test, got {split!r}{suggest(split, ('val', 'test'))}")
    from selftaught.tasks.scoring_protocol import PAPER_TEST_SEED

    sandbox = _choice("sandbox", sandbox, "--sandbox")
    executor = _choice("executor", executor, "--executor")
    protocol = _choice("protocol", protocol, "--protocol")
    if test_seed is not None and split != "test":
        raise UsageError("--test-seed only applies with --split test")
    loaded = load_task(task, protocol)
    if split == "test" and not has_test_split(loaded.name):
        raise UsageError(f"--split test: {loaded.name} has {NO_TEST_SPLIT}; use --split val")
    if split == "test" and test_seed is None and protocol == "paper":
        test_seed = PAPER_TEST_SEED  # the original code's public test seeds
    source = read_program(program)
    problem = loaded.check_program(source)
    if problem is not None:
        raise UsageError(f"{program}: {problem}")
    from selftaught.config import Settings
    from selftaught.executors import make_executor

    pool = make_executor(
        Settings(
            sandbox="weak" if sandbox == "weak" else "strong",
            executor="ray" if executor == "ray" else "local",
            ray_address=ray_address,
        )
    )
    try:
        if is_terminal(sys.stderr):
            with console(stderr=True).status(f"evaluating {program.name} on {loaded.name} ({split})..."):
                evaluation = loaded.evaluate(source, split=split, seed=test_seed, executor=pool)
        else:
            evaluation = loaded.evaluate(source, split=split, seed=test_seed, executor=pool)
    finally:
        pool.close()
    if as_json:
        emit_json(evaluation.to_dict(verbose=verbose))
        return
    _print_evaluation(evaluation, verbose)


def _print_artifacts(stdout: Any, artifacts: dict[str, str], verbose: bool) -> None:
    """What an OpenEvolve evaluator said besides numbers (errors, its prints, its artifacts)."""
    if artifacts and not verbose:
        stdout.print(f"evaluator artifacts: {', '.join(artifacts)} (--verbose shows them)", markup=False)
    for name, text in artifacts.items() if verbose else ():
        stdout.print(f"{name}:", markup=False, highlight=False)
        stdout.print(text, markup=False, highlight=False)


def _print_evaluation(evaluation: Evaluation, verbose: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from selftaught.tasks.catalog import has_test_split

    stdout = console()
    # An OpenEvolve evaluator takes no seed: printing one would suggest it mattered.
    where = f"{evaluation.split}, seed {evaluation.seed}" if has_test_split(evaluation.task) else "no seed"
    stdout.print(
        f"[bold]{evaluation.task}[/] ({where}): "
        f"utility [bold]{evaluation.utility:.4f}[/] over {evaluation.instances} instances, "
        f"{evaluation.failures} failed, {evaluation.wall_seconds:.2f} s"
    )
    if evaluation.metrics:
        figures = ", ".join(f"{key} {value:.6g}" for key, value in evaluation.metrics.items())
        stdout.print(f"mean over instances: {figures}", markup=False)
    for kind, detail in evaluation.events:
        stdout.print(f"[yellow]{escape(kind)}:[/] {escape(detail)}")
    if evaluation.setup_error:
        stdout.print(f"[red]setup error:[/] {escape(evaluation.setup_error)}")
    if evaluation.stopped:
        ran = evaluation.instances_run
        stdout.print(
            f"stopped after {ran} of {evaluation.instances} instances: {evaluation.stopped}", markup=False
        )
    _print_artifacts(stdout, getattr(evaluation, "artifacts", None) or {}, verbose)
    failed = [item for item in evaluation.per_instance if item.error is not None]
    rows = evaluation.per_instance if verbose else failed[:5]
    if not rows:
        return
    table = Table(show_header=True, header_style="bold", box=None)
    for column in ("#", "score", "seconds", "error"):
        table.add_column(column)
    for item in rows:
        table.add_row(str(item.index), f"{item.score:.4f}", f"{item.seconds:.4f}", escape(item.error or ""))
    stdout.print(table)
    if not verbose and len(failed) > len(rows):
        stdout.print(f"... {len(failed) - len(rows)} more failed instances (use --verbose)")


@app.command("new-task")
def new_task_command(
    name: Annotated[str, typer.Argument(help="Task name: lowercase letters, digits and underscores.")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Parent directory of the new task directory.")
    ] = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Scaffold a task directory (a small subset-sum example) that works at once with `selftaught eval`.

    Names of built-in tasks are refused: `--task NAME` always means the built-in.
    """
    from selftaught.tasks.scaffold import new_task

    created = new_task(name, directory)
    if as_json:
        emit_json({"task": name, "directory": str(created)})
        return
    write_raw(
        f"created {created}/ (task.toml, seed.py, utility.py, scorer.py)\n"
        f"try: selftaught eval {created} {created / 'seed.py'}"
    )
