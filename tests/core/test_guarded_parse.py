"""Nothing generated code can write makes a host-side parse or scan raise: one guarded parse everywhere.

The pathological sources are the ones that broke runs: a flat sum of 5,000 terms (ast.parse raises
RecursionError), a few hundred terms (parses, but ast.unparse and other recursive walkers overflow),
deeply nested brackets, NUL bytes, and sizes no model writes. Every host-side consumer of generated
text is asked about each, and random text from hypothesis on top.
"""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selftaught.codetext import pysource
from selftaught.codetext.reply_code import largest_code_block, parse_module
from selftaught.detectors.findings import scan_program
from selftaught.detectors.flag import find_disabling
from selftaught.improvers import improver_problem
from selftaught.report.strategies import detect_strategies
from selftaught.tasks.program import validate_program

HEAD = "def improve_algorithm(initial_solution, utility, language_model):\n"
FLAT_SUM = HEAD + "    x = " + "+".join(["1"] * 5000) + "\n    return initial_solution\n"
MID_SUM = HEAD + "    x = " + "+".join(["utility(1)"] * 400) + "\n    return initial_solution\n"
NESTED = HEAD + "    x = " + "[" * 190 + "]" * 190 + "\n    return initial_solution\n"
CALLS = HEAD + "    x = " + "f(" * 150 + ")" * 150 + "\n    return initial_solution\n"
HOSTILE = {
    "flat 5,000-term sum": FLAT_SUM,
    "400-term sum (unparse overflows)": MID_SUM,
    "190 nested lists": NESTED,
    "150 nested calls": CALLS,
    "NUL byte": HEAD + "    return '\x00' + \x00\n",
    "3 MB of statements": HEAD + "    x = 1\n" * 300_000,
}


def _scanners(source: str) -> list[object]:
    """Every host-side consumer of generated source; none may raise."""
    return [
        improver_problem(source),
        find_disabling(source),
        detect_strategies(source),
        scan_program(source),
        validate_program(source, "improve_algorithm"),
        parse_module(source),
        largest_code_block("```python\n" + source + "\n```"),
    ]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_pathological_sources_are_refused_or_scanned_never_raised(name: str) -> None:
    source = HOSTILE[name]
    problem, _flags, _strategies, _findings, invalid, tree, _block = _scanners(source)
    if name in ("190 nested lists", "150 nested calls"):
        return  # may well be fine Python; what matters is that nothing raised
    assert problem is not None and invalid is not None and tree is None, (problem, invalid)


def test_a_flat_sum_is_an_improver_problem_with_a_stated_reason() -> None:
    assert improver_problem(FLAT_SUM) == "cannot be parsed: nested too deeply to parse (RecursionError)"
    with pytest.raises(RecursionError):
        ast.parse(FLAT_SUM)  # what the unguarded parse did (and still does): the reason for the helper


def test_a_tree_that_parses_but_is_too_deep_to_walk_is_refused() -> None:
    with pytest.raises(RecursionError):
        ast.unparse(ast.parse(MID_SUM))  # the hazard for every recursive walker downstream
    with pytest.raises(pysource.SourceError) as caught:
        pysource.parse(MID_SUM)
    assert caught.value.exceeded and "nested too deeply" in caught.value.msg
    assert [f.kind for f in scan_program(FLAT_SUM)] == ["static:unscannable"]  # the parser gave up


def test_scanners_that_walk_without_recursion_still_see_past_a_deep_expression() -> None:
    """A hostile program must not hide `use_sandbox=False` or frame inspection behind a deep chain."""
    deep = "x = a" + ".b" * 1500 + "\n"
    hidden = deep + "import sys\nsys._getframe(1)\nutility(p, use_sandbox=False)\n"
    assert [use.text for use in find_disabling(hidden)] == ["utility(p, use_sandbox=False)"]
    kinds = {f.kind for f in scan_program(hidden)}
    assert {"static:frame-inspection", "static:use-sandbox-false"} <= kinds, kinds
    [use] = find_disabling("utility(a" + ".b" * 1500 + ", use_sandbox=False)")
    assert use.text.startswith("<expression nested over")


def test_honest_sources_still_parse_and_syntax_errors_keep_their_line() -> None:
    ok = HEAD + "    x = " + "+".join(["1"] * 100) + "\n    return initial_solution\n"
    assert improver_problem(ok) is None and isinstance(pysource.parse(ok), ast.Module)
    assert improver_problem(HEAD + "    return (\n") == "syntax error at line 2: '(' was never closed"
    assert pysource.check_compiles("x = 1\n") is None
    with pytest.raises(pysource.SourceError) as caught:
        pysource.check_compiles("x = " + "+".join(["1"] * 5000))
    assert caught.value.exceeded


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="()[]{}+-*/ x1=:,\n\t'\"\\#@.\x00\x1b", max_size=3000),
    st.integers(min_value=0, max_value=3000),
)
def test_random_text_and_random_depths_never_raise(text: str, depth: int) -> None:
    sources = (
        text,
        HEAD + "    x = " + "+".join(["1"] * depth) + text[:50] + "\n",
        HEAD + "    x = " + "-" * depth + "1\n",
    )
    for source in sources:  # every consumer returns an answer (a raise would fail the test first)
        assert len(_scanners(source)) == 7
