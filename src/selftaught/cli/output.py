"""Where and how the CLI writes: raw program text, JSON, and rich consoles that suit a pipe or a log.

Why: a program printed through rich loses every `[...]` (read as markup) and is wrapped at the
terminal width, so `selftaught improve ... > prog.py` produced invalid Python. Programs and JSON are
written as raw text; rich (imported only when a table is printed) is given a wide, colourless console
off a terminal, so tables do not wrap into an unreadable log.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 200  # columns rich lays tables out in when the stream is not a terminal


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def console(*, stderr: bool = False) -> Console:
    """A rich console for stdout or stderr: the terminal's width on a terminal, wide and plain off it."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPE_WIDTH, no_color=True, highlight=False, soft_wrap=False)


def write_raw(text: str, *, stderr: bool = False) -> None:
    """`text` exactly as given (no markup, no wrapping), ending with one newline."""
    stream = sys.stderr if stderr else sys.stdout
    stream.write(text if text.endswith("\n") else text + "\n")
    stream.flush()


def emit_json(data: Any) -> None:
    write_raw(json.dumps(data, indent=2, default=str))


def note(text: str) -> None:
    """A plain line for the user on stderr (never mixed into stdout's program or JSON)."""
    write_raw(text, stderr=True)


def plain_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns aligned with spaces, nothing cut or wrapped (cheap: no rich import; pipes well)."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *rows]
    ]
    return "\n".join(lines)
