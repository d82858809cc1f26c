"""Rich turns markup tags into escape sequences itself: untrusted text must not choose them.

Red team of the inert console: "[link=...]" becomes an OSC 8 hyperlink under a forged label,
"[conceal]" hidden text, "[white on white]" invisible text. Our own plain styles still render.
"""

from __future__ import annotations

import io
import re

from rich.table import Table

from selftaught.cli.output import _inert_console

HOSTILE = (
    "[link=https://evil.example]utility 1.0000[/link] [conceal]hidden[/conceal] [reverse]r[/] "
    "[white on white]w[/] [blink]b[/blink] \x1b]8;;https://x\x1b\\label"
)


def _render(*renderables: object) -> str:
    out = io.StringIO()
    console = _inert_console()(file=out, force_terminal=True, color_system="truecolor", width=300)
    for renderable in renderables:
        console.print(renderable)
    return out.getvalue()


def test_markup_from_untrusted_text_is_shown_not_obeyed() -> None:
    table = Table("detail")
    table.add_row(HOSTILE)
    shown = _render(table, "note: " + HOSTILE)
    for sequence in ("\x1b]8;", "\x1b[8m", "\x1b[7m", "\x1b[5m", "\x1b[37;47m"):
        assert sequence not in shown, (sequence, shown)
    assert "[link=https://evil.example]utility 1.0000[/link]" in shown  # visible, as text
    assert "^[]8;;https://x^[\\label" in shown


def test_our_own_styles_still_render_beside_escaped_tags() -> None:
    shown = _render("[bold red]ok[/] [conceal]x[/conceal] [yellow]warn:[/] done")
    assert "\x1b[1;31mok" in shown and "\x1b[33mwarn:" in shown
    assert "[conceal]x[/conceal]" in re.sub(r"\x1b\[[0-9;]*m", "", shown) and "\x1b[8m" not in shown


def test_warnings_logged_without_a_handler_are_shown_inert(capsys: object) -> None:
    import logging

    from selftaught.cli.output import inert_logging

    previous = logging.lastResort
    try:
        inert_logging()
        record = logging.LogRecord(
            "t", logging.WARNING, __file__, 1, "gate raised %s", ("\x1b]0;pwned\x07 ok",), None
        )
        assert logging.lastResort is not None
        logging.lastResort.handle(record)  # what logging does when no handler is configured
    finally:
        logging.lastResort = previous
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err == "gate raised ^[]0;pwned^G ok\n"
