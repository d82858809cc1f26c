"""The `helpers` module that improvers import inside the sandbox (`from helpers import extract_code`).

Kept compatible with the STOP paper's helper so published improvers run unchanged.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)


def _largest_block(text: str) -> str:
    """Return the longest fenced block of `text`; the whole text when it has no fence."""
    if not isinstance(text, str):
        return ""
    blocks = [body for _lang, body in _FENCE.findall(text)]
    if not blocks:
        # An unterminated fence (truncated reply): take what follows it.
        start = text.find("```")
        if start == -1:
            return text.strip()
        rest = text[start + 3 :]
        newline = rest.find("\n")
        return rest[newline + 1 :].strip() if newline != -1 else ""
    return max(blocks, key=len).strip("\n")


def extract_code(responses):
    """Largest fenced code block of each response: a list in, a list out (a string in, a string out)."""
    if isinstance(responses, str):
        return _largest_block(responses)
    return [_largest_block(response) for response in responses]
