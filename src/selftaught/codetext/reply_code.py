"""Reading the program out of a model's reply: the one extractor every layer uses.

Stdlib only: it runs inside the sandbox (behind `helpers.extract_code`) as well as on the host (the
STOP loop, the safety experiment, the offline model, reports import it from here).

Real replies are harder than "the text between two fences". An improver rewritten by a model sits in a
```python fence while its own prompt strings hold fences at the start of lines; models prefix reasoning
(`<think>` ... `</think>`, sometimes without the opening tag because the chat template pre-fills it);
replies are cut at max_tokens; Windows line ends; prose before and after; several blocks. The rules:

* Fences follow CommonMark: 0-3 spaces of indent, a run of at least three backticks or tildes; a
  backtick fence's info string holds no backtick (so "```x```" inline is not a fence); a closing fence
  is a bare run of the opening's character at least as long as the opening's run.
* Inside a block, a fence line (same character, at least as long) with an info string ("```python")
  opens a nested level and a bare one closes a level (nesting-aware, like the paper's helper). That natural close is kept if the block
  parses as Python; otherwise, among every possible close (and the end of the reply, for a reply cut
  short), the longest span that parses wins: a bare inner fence inside a string literal is then not
  mistaken for the end, because a span cut inside a string literal never parses.
* Blocks are outermost only; the largest wins (the first of equal ones).
* A leading reasoning section up to the first `</think>` is dropped (never a `</think>` inside a block).
* A reply without any block is taken whole if it parses and defines a function, else it yields "".
* The result has no leading or trailing blank lines; CRLF line ends become LF.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

if __package__:  # on the host, as selftaught.codetext.reply_code
    from .pysource import PARSE_LOCK, parse_or_none
else:  # inside the sandbox, where the codetext directory is on sys.path
    from pysource import PARSE_LOCK, parse_or_none  # type: ignore[no-redef]

__all__ = ["PARSE_LOCK", "code_blocks", "largest_code_block", "parse_module"]

_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"
_MAX_CANDIDATES = 400  # closes tried per opening when its natural close does not parse
# Characters parsed per reply while trying other closes, as a multiple of the reply's size: a crafted
# text with many fences (a prompt an improver wrote, read by the offline model on the host) costs a few
# parses of itself, never hundreds.
_PARSE_BUDGET = 8


@dataclass(frozen=True)
class _Fence:
    char: str  # "`" or "~"
    length: int
    indent: int
    info: str  # the text after the run, stripped ("" for a bare fence)


@dataclass(frozen=True)
class _Block:
    first: int  # index of the opening line
    end: int  # index of the closing line (len(lines) when unterminated)
    code: str


def _fence(line: str) -> _Fence | None:
    """The fence this line is, or None. Up to three spaces of indent, as in CommonMark."""
    stripped = line.lstrip(" ")
    indent = len(line) - len(stripped)
    if indent > 3 or not stripped or stripped[0] not in "`~":
        return None
    char = stripped[0]
    length = len(stripped) - len(stripped.lstrip(char))
    if length < 3:
        return None
    info = stripped[length:].strip()
    if char == "`" and "`" in info:
        return None
    return _Fence(char, length, indent, info)


def _closes(line: str, opening: _Fence) -> bool:
    fence = _fence(line)
    return (
        fence is not None and fence.char == opening.char and not fence.info and fence.length >= opening.length
    )


def parse_module(source: str) -> ast.Module | None:
    """The module, or None when it does not parse: the guarded parse (`pysource.parse_or_none`)."""
    return parse_or_none(source)


def _parses(source: str) -> bool:
    return parse_module(source) is not None


def _content(lines: list[str], first: int, end: int, indent: int) -> str:
    """The lines strictly between `first` and `end`, minus up to `indent` leading spaces each."""
    body = lines[first + 1 : end]
    if indent:
        body = [line[min(indent, len(line) - len(line.lstrip(" "))) :] for line in body]
    return _trim("\n".join(body))


def _trim(text: str) -> str:
    """Drop leading and trailing blank lines (indentation of the first real line is kept)."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _natural_close(lines: list[str], first: int, opening: _Fence) -> int:
    """The close the nesting count gives: fences of the same character, at least as long as the
    opening, open a level when tagged and close one when bare. len(lines) when the block never closes (a truncated reply)."""
    depth = 1
    for index in range(first + 1, len(lines)):
        fence = _fence(lines[index])
        if fence is None or fence.char != opening.char or fence.length < opening.length:
            continue
        if fence.info:
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return index
    return len(lines)


def _block_at(lines: list[str], first: int, opening: _Fence, budget: list[int]) -> _Block:
    """The block opened at `first`; `budget` (characters left to parse while trying other closes) is
    shared by every opening of the reply."""
    natural = _natural_close(lines, first, opening)
    code = _content(lines, first, natural, opening.indent)
    if _parses(code):
        return _Block(first, natural, code)
    candidates = [i for i in range(first + 1, len(lines)) if _closes(lines[i], opening)]
    candidates = [*candidates[:_MAX_CANDIDATES], len(lines)]
    for end in reversed(candidates):
        if end == natural:
            continue
        other = _content(lines, first, end, opening.indent)
        budget[0] -= len(other)
        if budget[0] < 0:
            break
        if other.strip() and _parses(other):
            return _Block(first, end, other)
    return _Block(first, natural, code)


def _blocks(lines: list[str]) -> list[_Block]:
    """Outermost blocks, left to right."""
    found: list[_Block] = []
    budget = [_PARSE_BUDGET * sum(len(line) + 1 for line in lines)]
    index = 0
    while index < len(lines):
        opening = _fence(lines[index])
        if opening is None:
            index += 1
            continue
        block = _block_at(lines, index, opening, budget)
        found.append(block)
        index = block.end + 1
    return found


def _drop_reasoning(text: str) -> str:
    """Remove a leading reasoning section: through the first `</think>` when the reply opens with
    `<think>`, else through the first `</think>` that lies outside every fenced block (the chat template
    may have pre-filled the opening tag, and a program's own strings may mention the tag)."""
    if text.lstrip().startswith(_THINK_OPEN):
        # No closing tag: the reply was cut inside its reasoning (max_tokens), so it has no answer.
        return text.split(_THINK_CLOSE, 1)[1] if _THINK_CLOSE in text else ""
    if _THINK_CLOSE not in text:
        return text
    lines = text.split("\n")
    inside: set[int] = set()
    for block in _blocks(lines):
        inside.update(range(block.first, block.end + 1))
    offset = 0
    for index, line in enumerate(lines):
        column = line.find(_THINK_CLOSE)
        if column != -1 and index not in inside:
            return text[offset + column + len(_THINK_CLOSE) :]
        offset += len(line) + 1
    return text


def _normalise(reply: str) -> str:
    return reply.replace("\r\n", "\n")


def _defines_function(source: str) -> bool:
    tree = parse_module(source)
    if tree is None:
        return False
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) for node in tree.body)


def code_blocks(reply: str) -> list[str]:
    """Every outermost fenced block of a reply, in order (reasoning dropped, blank edges trimmed)."""
    if not isinstance(reply, str):
        return []
    text = _drop_reasoning(_normalise(reply))
    return [block.code for block in _blocks(text.split("\n"))]


def largest_code_block(reply: str) -> str:
    """The program a reply carries: its largest outermost fenced block; for a reply without a fence,
    the whole reply if it parses and defines a function; otherwise ""."""
    if not isinstance(reply, str):
        return ""
    text = _normalise(reply)
    whole = _trim(text)
    if _defines_function(whole):
        return whole  # a bare program (a fence line outside a string literal never parses)
    rest = _trim(_drop_reasoning(text))
    if rest != whole and _defines_function(rest):
        return rest  # a bare program after the reasoning
    blocks = [block.code for block in _blocks(rest.split("\n"))]
    return max(blocks, key=len) if blocks else ""
