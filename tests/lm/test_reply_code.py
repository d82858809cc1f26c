"""The reply extractor: every corpus shape around programs whose strings hold fences, plus edge cases."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selftaught.codetext.reply_code import code_blocks, largest_code_block
from selftaught.sandbox.inside import helpers

from .reply_shapes import NO_PROGRAM, SHAPES

SEED = (Path(__file__).parents[2] / "src/selftaught/improvers/builtin/seed.py").read_text()

# Lines that a program's string literals may hold: fences of every kind at line start, indented ones,
# inline backticks, think tags, and prose.
_STRING_LINES = st.sampled_from(
    [
        "```python",
        "```",
        "````",
        "~~~",
        "~~~python",
        "  ```",
        "   ```py",
        "    ```",
        "```json",
        "````python",
        "~~~~",
        "inline ```code``` here",
        "a = ```",
        "``",
        "</think>",
        "<think>",
        "Improve the following solution:",
        "",
        "  indented words",
    ]
)
_NAMES = st.sampled_from(["a", "b", "prompt", "message", "n_rounds", "best"])
_BODY = st.lists(_STRING_LINES, max_size=6).map("\n".join)


@st.composite
def _statement(draw: st.DrawFn) -> str:
    name = draw(_NAMES)
    body = draw(_BODY)
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return f'{name} = """{body}"""'
    if kind == 1:
        return f'{name} = f"""{body}\n{{{draw(_NAMES)}}}\n{draw(_BODY)}"""'
    if kind == 2:
        return f'def {name}_fn(x, y):\n    """{body}"""\n    return x + y'
    if kind == 3:
        return f'{name} = "inline ```python fence``` and ~~~ tildes"'
    if kind == 4:
        return f"{name} = {draw(st.integers(-1000, 1000))}"
    return f"if {name}:\n    print('```')\nelse:\n    pass"


@st.composite
def programs(draw: st.DrawFn) -> str:
    """Programs that parse and define a function, with fences inside their string literals."""
    statements = draw(st.lists(_statement(), min_size=1, max_size=5))
    statements.insert(
        draw(st.integers(0, len(statements))),
        'def improve(initial_solution, utility, language_model):\n    message = f"""Improve:\n```python\n'
        '{initial_solution}\n```\n"""\n    return initial_solution',
    )
    source = "\n".join(statements)
    ast.parse(source)
    return source


def _trim(text: str) -> str:
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=programs())
def test_every_shape_gives_back_the_program(shape: str, source: str) -> None:
    assert largest_code_block(SHAPES[shape](source)) == _trim(source)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_shape_around_the_paper_seed_improver(shape: str) -> None:
    """The seed improver's prompt string holds ```python fences at line start (the reported failure)."""
    assert largest_code_block(SHAPES[shape](SEED)) == _trim(SEED)


@pytest.mark.parametrize("name", sorted(NO_PROGRAM))
def test_replies_without_a_program_give_empty(name: str) -> None:
    assert largest_code_block(NO_PROGRAM[name]) == ""


def test_helpers_keep_the_paper_interface() -> None:
    reply = SHAPES["gpt4_prose"]("def f():\n    return 1")
    assert helpers.extract_code(reply) == "def f():\n    return 1"
    assert helpers.extract_code([reply, "no code"]) == ["def f():\n    return 1", ""]
    assert helpers.extract_code(None) == ""  # type: ignore[arg-type]
    assert helpers.all_code_blocks(SHAPES["several_blocks"]("y = 2")) == ["x = 1", "y = 2", "python main.py"]


def test_largest_outermost_block_wins_and_all_are_listed() -> None:
    reply = "```python\nsmall = 1\n```\ntext\n```python\ndef big():\n    return 2\n```\n"
    assert code_blocks(reply) == ["small = 1", "def big():\n    return 2"]
    assert largest_code_block(reply) == "def big():\n    return 2"
    tie = "```\nx = 1\n```\n```\ny = 2\n```"
    assert largest_code_block(tie) == "x = 1"


def test_nested_tagged_fences_are_counted_even_when_the_block_is_not_python() -> None:
    reply = "````markdown\nIntro\n```python\nx = (\n```\nEnd\n````\n"
    assert largest_code_block(reply) == "Intro\n```python\nx = (\n```\nEnd"


def test_closing_fence_needs_same_character_and_length() -> None:
    reply = "~~~\ndef f():\n    return '```'\n```\nstill code = 1\n~~~"
    assert largest_code_block(reply) == "def f():\n    return '```'\n```\nstill code = 1"
    assert largest_code_block("````\nx = 1\n```\ny = 2\n````") == "x = 1\n```\ny = 2"


def test_truncated_reply_inside_the_block_returns_what_arrived() -> None:
    reply = "Here:\n```python\ndef f(x):\n    total = 0\n    for i in range("
    assert largest_code_block(reply) == "def f(x):\n    total = 0\n    for i in range("


def test_inline_fence_is_not_a_fence() -> None:
    assert code_blocks("Use ```python``` blocks.\n```x```\n") == []


def test_think_inside_a_block_is_never_stripped() -> None:
    reply = "```python\ndef f():\n    return '''\n</think>\n'''\n```"
    assert largest_code_block(reply) == "def f():\n    return '''\n</think>\n'''"


def test_bare_program_must_parse_and_define_a_function() -> None:
    assert largest_code_block("def f():\n    return 1\n") == "def f():\n    return 1"
    assert largest_code_block("x = 1\n") == ""
    assert largest_code_block("def f(:\n") == ""


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("`~ \n\r\tpy<>/think=()'\"x:#")), max_size=300))
def test_arbitrary_text_never_raises(text: str) -> None:
    result = largest_code_block(text)
    assert isinstance(result, str)
    assert all(isinstance(block, str) for block in code_blocks(text))


def test_inputs_that_crash_the_3_11_parser_read_as_not_python() -> None:
    """CPython 3.11 raises SystemError (not SyntaxError) on this string (a CPython 3.11 parser bug, gh-135426 upstream)."""
    odd = 'f""""{5\nclass""\ta:""0"""'
    assert largest_code_block(odd) == ""
    assert largest_code_block(f"```python\n{odd}\n```") == odd


def test_a_reply_cut_inside_its_reasoning_has_no_program() -> None:
    reply = "<think>\nA first draft:\n```python\ndef draft():\n    return 0\n```\nBut wait, the loop"
    assert largest_code_block(reply) == ""


def test_many_fences_cost_a_bounded_number_of_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A crafted text (thousands of fences, nothing parses) is parsed a few times over, not thousands."""
    from selftaught.codetext import reply_code

    parsed: list[int] = []
    real = reply_code.parse_module

    def counting(source: str):  # type: ignore[no-untyped-def]
        parsed.append(len(source))
        return real(source)

    monkeypatch.setattr(reply_code, "parse_module", counting)
    text = "```python\n" + "x = (\n```\n" * 300
    assert isinstance(largest_code_block(text), str)
    assert sum(parsed) <= 10 * len(text)


def test_the_parse_budget_is_eight_times_the_reply_spent_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """One block that never parses, nested so that its natural close is the reply's last line: every
    other close is tried (longest first) until the characters parsed would pass 8 x (len(reply) + 1),
    the reply's characters with one line end each. Each try costs less than the reply, so the tries
    spend more than 7 x and at most 8 x."""
    from selftaught.codetext import reply_code

    parsed: list[int] = []
    real = reply_code.parse_module

    def counting(source: str):  # type: ignore[no-untyped-def]
        parsed.append(len(source))
        return real(source)

    monkeypatch.setattr(reply_code, "parse_module", counting)
    text = "```python\n" + "```x\ny\n```\n" * 90 + "```\n"
    [block] = code_blocks(text)
    assert block == text[len("```python\n") : -len("\n```\n")]  # the natural close, kept
    natural, *tries = parsed
    assert natural == len(block) and all(size < len(text) for size in tries)
    assert 7 * (len(text) + 1) < sum(tries) <= 8 * (len(text) + 1)
    # Each other close is tried once, longest first; the natural one (line 271: compared by value, not
    # identity) is never parsed again.
    assert tries == sorted(set(tries), reverse=True) and natural not in tries


@pytest.mark.parametrize("inside, found", [(399, True), (400, False)])
def test_the_first_400_closes_are_tried_not_more(inside: int, found: bool) -> None:
    """The natural close sits inside a string literal; the only close that gives Python ends the string
    after `inside` bare fences, so it is close number inside + 1: found as the 400th, not as the 401st."""
    program = "s = '''\n" + "```\n" * inside + "'''"
    reply = f"```python\n{program}\n```\nprose (\n"
    assert largest_code_block(reply) == (program if found else "s = '''")


def test_a_longer_closing_fence_closes_the_block() -> None:
    """A bare run longer than the opening's closes it (CommonMark). Here the natural close (the inner
    bare fence) sits inside a string literal and does not parse, so the extractor must find the
    longer fence among the other closes: with only same-length closes, it would keep `s = '''`."""
    reply = "```python\ns = '''\n```\n'''\nx = 1\n`````\nprose (\n"
    assert largest_code_block(reply) == "s = '''\n```\n'''\nx = 1"
    assert code_blocks("```python\nx = 1\n``````\n") == ["x = 1"]


def test_a_fence_may_be_indented_three_spaces_not_four() -> None:
    """Up to three spaces of indent make a fence (stripped from the block's lines); four make an
    indented code line, so the reply has no block and, not parsing as a whole, no program."""
    assert code_blocks("   ```python\n   x = 1\n   ```\n") == ["x = 1"]
    assert largest_code_block("   ```python\n   def f():\n       return 1\n   ```\n") == (
        "def f():\n    return 1"
    )
    assert code_blocks("    ```python\n    x = 1\n    ```\n") == []
    assert largest_code_block("    ```python\n    def f():\n        return 1\n    ```\n") == ""


def test_only_the_openings_character_closes_its_block() -> None:
    """A bare `~~~` does not close a backtick block, even among the other closes tried when the natural
    close (here inside a string literal) does not parse."""
    reply = "```python\ns = '''\n```\n'''\nx = 1\n~~~\nprose (\n"
    assert largest_code_block(reply) == "s = '''"


def test_a_block_may_open_on_the_line_after_the_previous_close() -> None:
    assert code_blocks("```python\na = 1\n```\n```python\nbb = 22\n```\n") == ["a = 1", "bb = 22"]


def test_a_line_indented_less_than_its_fence_loses_only_the_spaces_it_has() -> None:
    """CommonMark: each line of an indented fence's block loses up to the fence's indent, never more."""
    reply = "   ```python\n def f():\n     return 1\n   ```\n"
    assert code_blocks(reply) == ["def f():\n  return 1"]


def test_a_bare_async_program_is_taken_whole() -> None:
    assert largest_code_block("async def f():\n    return 1\n") == "async def f():\n    return 1"
    assert largest_code_block("class A:\n    pass\n") == ""  # defines no function


def test_only_text_is_read() -> None:
    assert code_blocks(None) == [] and code_blocks(b"```\nx = 1\n```") == []  # type: ignore[arg-type]
    assert largest_code_block(42) == ""  # type: ignore[arg-type]


def test_reasoning_ends_at_the_first_closing_tag_outside_every_block() -> None:
    """Without the opening tag (pre-filled by the chat template) the reasoning runs to the first
    `</think>` outside a block, even mid-line; what follows on that line is kept."""
    reply = "plan: ```\n```python\nx = '</think>'\n```\nthen </think>def f():\n    return 2\n"
    assert largest_code_block(reply) == "def f():\n    return 2"
    opened = "  <think>\nhmm </think>\n\n```python\nx = 1\n```\n</think>\n"
    assert code_blocks(opened) == ["x = 1"]
    assert code_blocks("\r\n\r\n```python\r\n\r\nx = 1\r\n\r\n```\r\n") == ["x = 1"]


def test_a_program_after_the_reasoning_is_taken_whole() -> None:
    reply = "<think>\nwhich loop?\n</think>\n\n\ndef f():\n    return 3\n\n"
    assert largest_code_block(reply) == "def f():\n    return 3"


def test_an_empty_block_is_empty() -> None:
    assert code_blocks("```python\n```\n```python\nx = 1\n```") == ["", "x = 1"]


def test_an_opened_reasoning_ends_at_its_first_closing_tag_only() -> None:
    """After `<think>` ... `</think>`, the program may itself mention the tag: it is kept whole."""
    program = "def f():\n    return '</think>'"
    reply = f"<think>\nsketch\n</think>\n```python\n{program}\n```\n"
    assert largest_code_block(reply) == program


def test_a_longer_bare_fence_is_the_natural_close_of_a_block_that_is_not_python() -> None:
    """Prose in a fence: no close parses, so the natural close stands, and a longer bare run is one."""
    assert code_blocks("```text\nhello world\n`````\nmore prose\n") == ["hello world"]
    assert code_blocks("~~~text\nhello world\n~~~~~\nmore prose\n") == ["hello world"]


def test_a_tilde_fence_may_have_backticks_in_its_info_string() -> None:
    """CommonMark forbids backticks only in a backtick fence's info string."""
    assert code_blocks("~~~python `main`\nx = 1\n~~~\n") == ["x = 1"]
    assert code_blocks("```python `main`\nx = 1\n") == []  # not a fence: no block at all


@pytest.mark.parametrize("opening, other", [("```", "~~~"), ("~~~", "```")])
def test_a_bare_fence_of_the_other_character_does_not_close_a_block(opening: str, other: str) -> None:
    """Only a fence of the opening's own character closes it (CommonMark): the other kind inside the
    block is content, even when the block then does not parse."""
    text = f"{opening}python\nx = 1\n{other}\ny = 2\n{opening}\n"
    assert code_blocks(text) == [f"x = 1\n{other}\ny = 2"]


@pytest.mark.parametrize("opening", ["```python", "```"])
def test_the_400_closes_are_counted_after_the_opening_line(opening: str) -> None:
    """Models often open with a bare fence. A bare opening line is itself a close of its own kind, yet
    it is not one of the block's closes: the close that gives Python is still found as the 400th."""
    program = "s = '''\n" + "```\n" * 399 + "'''"
    assert largest_code_block(f"{opening}\n{program}\n```\nprose (\n") == program


def test_strikethrough_prose_is_not_a_fence() -> None:
    """Two tildes (Markdown's strikethrough, common in model prose) or two backticks are not a run of
    three: the prose line opens no block that would swallow the program after it."""
    program = "def f(x):\n    return x + 1"
    reply = f"~~Sort first, then scan.~~ A single scan is enough:\n\n```python\n{program}\n```\n"
    assert code_blocks(reply) == [program]
    assert largest_code_block(f"``\n{reply}") == program


def _edge_of_budget_reply(body_chars: int) -> tuple[str, str, int]:
    """A block whose natural close sits inside a string literal, and whose only close that parses is
    followed by seven bare fences and the reply's end: nine tries, the good close last. Returns the
    reply, the good block, and how far past the budget the ninth try leaves the characters spent."""
    head = "s = '''\n```\n'''\ndef f():\n    return s  # "
    body = head + "x" * (body_chars - len(head))
    reply = "```python\n" + body + "\n```" * 8  # no final line end: the last fence is the last line
    lines = reply.split("\n")
    budget = 8 * sum(len(line) + 1 for line in lines)
    tries = [len("\n".join(lines[1:end])) for end in range(len(lines), len(lines) - 9, -1)]
    assert tries[-1] == len(body)  # the ninth try is the good close
    return reply, body, sum(tries) - budget


@pytest.mark.parametrize("past, found", [(-1, True), (0, True), (1, False), (2, False)])
def test_a_try_that_spends_the_budget_exactly_is_still_parsed(past: int, found: bool) -> None:
    """The tries may spend the parse budget exactly, not one character more: the close that parses is
    found when reaching it spends at most the budget, and not when it would spend one more."""
    reply, body, over = _edge_of_budget_reply(200 + past)
    assert over == past  # nine tries of the body plus 4 per fence after it, against 8 x the reply
    assert largest_code_block(reply) == (body if found else "s = '''")


def test_a_spent_budget_ends_the_tries_without_assembling_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the budget is spent, no further close is even assembled: a crafted reply of many fences
    costs a bounded number of characters copied, not 400 copies of itself."""
    from selftaught.codetext import reply_code

    built: list[int] = []
    real = reply_code._content

    def counting(lines: list[str], first: int, end: int, indent: int) -> str:
        text = real(lines, first, end, indent)
        built.append(len(text))
        return text

    monkeypatch.setattr(reply_code, "_content", counting)
    text = "```python\n" + "```x\ny\n```\n" * 90 + "```\n"
    assert isinstance(largest_code_block(text), str)
    # the natural close, the tries within 8 x the reply, and the one try that passed it
    assert sum(built) <= 10 * (len(text) + 1)
