"""Text from a sandboxed program or a model, made safe to store and to show: the one helper.

Two hazards, one function. A lone surrogate (a child can name one in any header) raises wherever the
host encodes the text as UTF-8, so every peer-supplied string is made encodable before it travels on.
And text printed to a terminal is also a program for the terminal: ESC starts sequences that clear the
screen, reset the terminal, hide text, set the window title (OSC 0) or write the clipboard (OSC 52), and
a carriage return lets a later line overwrite an earlier one, so a hostile program could print a forged
"utility 1.0000" over the real one. With `terminal=True` every control character is shown visibly
instead (ESC as `^[`, other C0 controls as `^X`, DEL as `^?`, C1 controls and the bidirectional
overrides that reorder what a reader sees as `<U+XXXX>`); newlines and tabs stay, they are layout.

Stdlib only and importing nothing (the sandbox's zygote uses it too, through `wire.safe_text`).
"""

from __future__ import annotations

from typing import Any

_VISIBLE: dict[int, str] = {code: "^" + chr(code + 0x40) for code in range(0x20) if code not in (0x09, 0x0A)}
_VISIBLE[0x7F] = "^?"
_VISIBLE.update({code: f"<U+{code:04X}>" for code in range(0x80, 0xA0)})
# Bidirectional controls: they reorder or hide what a terminal shows without being visible themselves.
_VISIBLE.update(
    {
        code: f"<U+{code:04X}>"
        for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    }
)


def safe_text(value: Any, limit: int | None = None, *, terminal: bool = False) -> str:
    """`value` as UTF-8-encodable text of at most `limit` characters (None: no cut).

    Non-strings become their repr (dicts and lists `<structure>`: a peer's nested value is not text).
    `terminal=True`: also inert for a terminal (see the module docstring); the cut applies first, so a
    shown text may be longer than `limit` by its visible escapes.
    """
    text = (
        value
        if isinstance(value, str)
        else repr(value)
        if not isinstance(value, (dict, list))
        else "<structure>"
    )
    if limit is not None:
        text = text[:limit]
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    if terminal:
        text = text.translate(_VISIBLE)
    return text
