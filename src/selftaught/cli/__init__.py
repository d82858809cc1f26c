"""The `selftaught` command line: thin wrappers that parse, call the library and print.

Each command group lives in its own module and registers itself on `app`; this module only wires them
up and turns `UsageError` into a one-line message with exit code 2 (never a traceback).
"""

from __future__ import annotations

import os
import sys

import typer

from selftaught.errors import UsageError

app = typer.Typer(
    name="selftaught",
    help="STOP: recursively self-improving code generation, every generated program sandboxed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from selftaught._version import __version__

        typer.echo(f"selftaught {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """STOP: recursively self-improving code generation, every generated program sandboxed."""


def _register_commands() -> None:
    # Imported for their side effect of adding commands to `app`.
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"selftaught.cli.{name}")


COMMAND_MODULES: list[str] = ["stop", "tasks", "safety", "doctor", "report"]


def main() -> None:
    """Console-script entry point."""
    _register_commands()
    try:
        exit_code = app(standalone_mode=False)
        if isinstance(exit_code, int):
            sys.exit(exit_code)
    except UsageError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors arrive here in standalone_mode=False
        import click

        if isinstance(exc, click.exceptions.UsageError):
            typer.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(2)
        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get("SELFTAUGHT_DEBUG"):
            raise
        # Our own bug or an environment failure: one line, exit 1; runs keep what they stored.
        typer.echo(f"error: {type(exc).__name__}: {exc} (set SELFTAUGHT_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
