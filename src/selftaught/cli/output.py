"""Where and how the CLI writes: raw program text, JSON, and rich consoles that suit a pipe or a log.

Why: a program printed through rich loses every `[...]` (read as markup) and is wrapped at the
terminal width, so `selftaught improve ... > prog.py` produced invalid Python. Programs and JSON are
written as raw text; rich (imported only when a table is printed) is given a wide, colourless console
off a terminal, so tables do not wrap into an unreadable log.

Everything shown is inert for terminals (`codetext.safetext.safe_text(..., terminal=True)`): programs,
artifacts, failure reasons and event details come from sandboxed code or a model, and an escape
sequence in them would drive the user's terminal. Rich output, notes and plain tables are always shown
inert; `write_raw` (programs, JSON, CSV) is byte-exact into a file or pipe, as asked for with
`improve > prog.py`, and inert only when the stream is a terminal.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from selftaught.codetext.safetext import safe_text

if TYPE_CHECKING:
    from rich.console import Console

PIPE_WIDTH = 200  # columns rich lays tables out in when the stream is not a terminal


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def shown(text: Any) -> str:
    """`text` as it may be shown on a terminal: control and escape sequences made visible."""
    return safe_text(text, terminal=True)


def console(*, stderr: bool = False) -> Console:
    """A rich console for stdout or stderr: the terminal's width on a terminal, wide and plain off it.

    Every string it renders (printed, a table cell, a status line) is made inert first.
    """
    cls = _inert_console()
    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return cls(stderr=stderr)
    return cls(stderr=stderr, width=PIPE_WIDTH, no_color=True, highlight=False, soft_wrap=False)


def _inert_console() -> type[Console]:
    """rich's Console, with every string it turns into text made inert (rich imported on first use)."""
    global _INERT_CONSOLE
    if _INERT_CONSOLE is None:
        from rich.console import Console

        class InertConsole(Console):
            def render_str(self, text: str, **kwargs: Any) -> Any:
                text = shown(text)
                if kwargs.get("markup", self._markup) is not False:
                    text = _plain_markup_only(text)
                return super().render_str(text, **kwargs)

        _INERT_CONSOLE = InertConsole
    return _INERT_CONSOLE


_INERT_CONSOLE: type[Console] | None = None
# Markup our own messages use; any other tag in a string rich parses is shown as text. Rich turns tags
# into escape sequences itself, so a program's or model's "[link=...]" (an OSC 8 hyperlink under a
# forged label), "[conceal]" (hidden text) or "[white on white]" would otherwise reach the terminal.
_STYLE_WORDS = frozenset({"bold", "dim", "italic", "red", "green", "yellow", "blue", "cyan", "magenta"})


def _plain_markup_only(text: str) -> str:
    """`text` with every markup tag that is not a plain style of ours escaped (shown literally), and
    the closing tags of escaped ones too (so the rest still parses as it did)."""
    if "[" not in text:
        return text
    from rich.markup import RE_TAGS

    opened: list[tuple[str, bool]] = []  # (tag, kept) of tags not closed yet

    def keep_or_escape(match: Any) -> str:
        whole, backslashes, tag = match.group(0), match.group(2), match.group(3)
        if len(backslashes) % 2:
            return whole  # already escaped
        if tag.startswith("/"):
            name = tag[1:].strip()
            index = len(opened) - 1 if not name else _last(opened, name)
            kept = index is not None and index >= 0 and opened[index][1]
            if index is not None and index >= 0:
                del opened[index]
        else:
            kept = all(word in _STYLE_WORDS for word in tag.split()) and bool(tag.split())
            opened.append((tag.strip(), kept))
        return whole if kept else backslashes + "\\" + whole[len(backslashes) :]

    return RE_TAGS.sub(keep_or_escape, text)


def _last(opened: list[tuple[str, bool]], name: str) -> int | None:
    for index in range(len(opened) - 1, -1, -1):
        if opened[index][0] == name:
            return index
    return None


def write_raw(text: str, *, stderr: bool = False) -> None:
    """`text` exactly as given (no markup, no wrapping), ending with one newline; made inert only when
    the stream is a terminal (into a file or a pipe it stays byte-exact)."""
    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        text = shown(text)
    stream.write(text if text.endswith("\n") else text + "\n")
    stream.flush()


class _InertStderr(logging.Handler):
    """Like Python's last-resort handler (the message, on whatever sys.stderr is now), shown inert."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(shown(self.format(record)) + "\n")
        except Exception:
            self.handleError(record)


def inert_logging() -> None:
    """Warnings logged with no handler configured (Python's last-resort handler) are shown inert too:
    some quote what a task's scorer or a sandboxed program said."""
    logging.lastResort = _InertStderr(logging.WARNING)


def emit_json(data: Any) -> None:
    write_raw(json.dumps(data, indent=2, default=str))


def note(text: str) -> None:
    """A plain line for the user on stderr (never mixed into stdout's program or JSON), always inert:
    notes quote failure reasons and model errors, and a log file is read on a terminal later."""
    write_raw(shown(text), stderr=True)


def plain_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns aligned with spaces, nothing cut or wrapped (cheap: no rich import; pipes well); cells
    shown inert."""
    headers, rows = [shown(cell) for cell in headers], [[shown(cell) for cell in row] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *rows]
    ]
    return "\n".join(lines)
