"""`selftaught serve`: the live view of runs in the browser (optional extra `selftaught[serve]`).

Thin: checks the extra is installed (one line, exit 2 otherwise) and starts `selftaught.serve`; Starlette
and uvicorn are imported only here, when the command runs, so `selftaught --help` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from selftaught.cli import app, options
from selftaught.errors import UsageError


@app.command()
def serve(
    runs_dir: options.RunsDir = None,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Anything but loopback requires the token printed at start on every request.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0: any free port).", min=0, max=65535)
    ] = 8765,
    config: options.Config = None,
) -> None:
    """Watch runs live in the browser: runs list, each run's page updating as it goes (read-only)."""
    from selftaught.serve.server import EXTRA_MISSING, extra_installed

    if not extra_installed():
        raise UsageError(EXTRA_MISSING)
    from selftaught.serve.server import serve as start

    def announce(line: str) -> None:
        typer.echo(line)
        # stdout may be a pipe (`run --serve` reads the address from it): never hold the line back
        import sys

        sys.stdout.flush()

    start(options.runs_dir(runs_dir, config), host, port, announce=announce)
