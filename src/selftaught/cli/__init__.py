"""The `selftaught` command line: thin wrappers that parse, call the library and print.

Each command group lives in its own module and registers itself on `app`; this module only wires them
up and maps every outcome to the documented exit code: 0 done, 1 the run failed, 2 bad usage or bad
input (one line, never a traceback), 130 interrupted (Ctrl-C).

Start-up: the command modules import only typer and `selftaught.defaults` at module level, so
`--help` (built live from the commands, never cached text) stays fast; each command imports the
library when it runs. Help is plain text (no rich markup), so it reads the same in a pipe.

Typer versions differ in where click lives (a separate package, or vendored as `typer._click`), so
click's exception classes are taken from the module typer's own `BadParameter` comes from, and
recognised by type, never by name.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from selftaught.cli.output import inert_logging, shown
from selftaught.errors import UsageError


class _LightHelp:
    """A `--help` flag that defaults to False instead of None.

    Why: typer 0.29 coerces each parameter's value through a pydantic adapter unless it is a bool flag
    that is already a bool; its own `--help` flag defaults to None, so every command paid ~0.1 s of CPU
    importing pydantic just to learn that `--help` was not given. With a False default the flag is
    skipped, as typer intends for bool flags. On typers without that coercion this changes nothing.
    """

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None and option.default is None:
            option.default = False
        return option


class LightHelpCommand(_LightHelp, TyperCommand):
    pass


class LightHelpGroup(_LightHelp, TyperGroup):
    pass


app = typer.Typer(
    name="selftaught",
    cls=LightHelpGroup,
    help="STOP: recursively self-improving code generation, every generated program sandboxed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _version(value: bool) -> None:
    if value:
        from selftaught._version import __version__

        typer.echo(f"selftaught {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """STOP: recursively self-improving code generation, every generated program sandboxed."""


COMMAND_MODULES: list[str] = ["stop", "tasks", "safety", "doctor", "report", "serve"]


def _register_commands() -> None:
    # Imported for their side effect of adding commands to `app`.
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"selftaught.cli.{name}")
    _use_light_help_option(app)


def _use_light_help_option(typer_app: typer.Typer) -> None:
    """Every command and group gets the `--help` flag of `_LightHelp` (see there)."""
    for info in typer_app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = LightHelpCommand
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _use_light_help_option(group.typer_instance)


def click_exceptions() -> ModuleType:
    """The click exceptions module typer uses (separate click, or typer's vendored copy)."""
    return sys.modules[typer.BadParameter.__module__]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: returns on success, exits with the code otherwise."""
    code = run(argv)
    if code != EXIT_OK:
        sys.exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on `argv` (default: sys.argv[1:]) and return the exit code."""
    _register_commands()
    inert_logging()
    args = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=args, prog_name="selftaught", standalone_mode=False)
    except UsageError as exc:
        typer.echo(shown(f"error: {exc}"), err=True)
        _echo_notes(exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if _is_endpoint_error(exc):  # the model endpoint failed (unreachable, 5xx): one line, exit 1
            typer.echo(shown(f"error: model endpoint failed: {exc}"), err=True)
            _echo_notes(exc)
            return EXIT_FAILED
        return _other_exception(exc)
    return result if isinstance(result, int) else EXIT_OK


def _echo_notes(exc: BaseException) -> None:
    """What a command added to the error on its way out (e.g. how to continue the failed run)."""
    for line in getattr(exc, "__notes__", ()):
        typer.echo(shown(str(line)), err=True)


def _is_endpoint_error(exc: Exception) -> bool:
    """`selftaught.lm.errors.EndpointError`, checked without importing the LM layer (help stays light):
    if the module was never imported, no such error can have been raised."""
    errors = sys.modules.get("selftaught.lm.errors")
    return errors is not None and isinstance(exc, errors.EndpointError)


def _other_exception(exc: Exception) -> int:
    click = click_exceptions()
    no_args_help = getattr(click, "NoArgsIsHelpError", None)
    if no_args_help is not None and isinstance(exc, no_args_help):
        typer.echo(exc.format_message())  # bare `selftaught` (or a bare group): help, exit 0
        return EXIT_OK
    if isinstance(exc, click.UsageError):
        typer.echo(f"error: {exc.format_message()}{_help_hint(exc)}", err=True)
        return EXIT_USAGE
    if isinstance(exc, typer.Abort):  # typer's own class on every version (click's, re-exported, on old ones)
        # Older typers turn Ctrl-C into Abort; newer ones into Exit(130), returned as a code.
        interrupted = isinstance(exc.__context__, KeyboardInterrupt)
        typer.echo("interrupted" if interrupted else "aborted", err=True)
        return EXIT_INTERRUPTED if interrupted else EXIT_FAILED
    if isinstance(exc, click.ClickException):
        typer.echo(f"error: {exc.format_message()}", err=True)
        return int(exc.exit_code)
    if os.environ.get("SELFTAUGHT_DEBUG"):
        raise exc
    # Our own bug or an environment failure: one line, exit 1; runs keep what they stored.
    typer.echo(
        shown(f"error: {type(exc).__name__}: {exc} (set SELFTAUGHT_DEBUG=1 for the traceback)"), err=True
    )
    _echo_notes(exc)
    return EXIT_FAILED


def _help_hint(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) if ctx is not None else None
    return f" (see `{path} --help`)" if path else ""
