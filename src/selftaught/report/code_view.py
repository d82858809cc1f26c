"""Improver source and diffs as highlighted HTML (pygments), with a plain-text fallback.

Why difflib's unified diff highlighted by pygments' diff lexer rather than a side-by-side table: improvers
are long and the changes small; a unified diff with three lines of context shows what changed in a few
lines and stays readable on narrow screens. Styles are emitted once per page (`css()`).
"""

from __future__ import annotations

import difflib
import html

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, PythonLexer

_FORMATTER = HtmlFormatter(cssclass="hl", nowrap=False)


def css() -> str:
    """The pygments rules for `.hl` blocks."""
    return str(_FORMATTER.get_style_defs(".hl"))


def source_html(source: str) -> str:
    """Python source, highlighted."""
    return str(highlight(source, PythonLexer(), _FORMATTER))


def unified_diff(parent: str, child: str, parent_label: str, child_label: str) -> str:
    """Unified diff text (3 lines of context); empty when the sources are equal."""
    return "".join(
        difflib.unified_diff(
            parent.splitlines(keepends=True),
            child.splitlines(keepends=True),
            fromfile=parent_label,
            tofile=child_label,
            n=3,
        )
    )


def diff_stats(diff: str) -> tuple[int, int]:
    """(added, removed) line counts of a unified diff, headers excluded."""
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    return added, removed


def diff_html(diff: str) -> str:
    """A unified diff, highlighted (or a note when there is no change)."""
    if not diff:
        return '<p class="muted">identical to its parent</p>'
    return str(highlight(diff, DiffLexer(), _FORMATTER))


def code_tabs(source: str, parent: tuple[str, str] | None, label: str) -> str:
    """Diff against the parent (when known) and the highlighted source, as two tabs."""
    if parent is None:
        return source_html(source)
    diff = unified_diff(parent[1], source, f"parent {parent[0][:8]}", label)
    added, removed = diff_stats(diff)
    return (
        '<div class="tabbed"><div class="tabs"><button type="button" data-tab="diff">diff vs parent '
        f"(+{added} −{removed})</button>"
        '<button type="button" data-tab="source">source</button></div>'
        f'<div class="pane diff" data-pane="diff">{diff_html(diff)}</div>'
        f'<div class="pane source" data-pane="source">{source_html(source)}</div></div>'
    )


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)
