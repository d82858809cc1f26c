"""One answer to "is this an improver?", for the loader, the STOP loop and candidates alike."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selftaught.errors import UsageError
from selftaught.improvers import check_improver_source, improver_problem, load_improver

GOOD = "def improve_algorithm(initial_solution, utility, language_model):\n    return initial_solution\n"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (GOOD, None),
        ("def improve_algorithm(*args):\n    return args[0]\n", None),
        (
            "async def improve_algorithm(initial_solution, utility, language_model):\n    return 1\n",
            "async def",
        ),
        ("def improve_algorithm(initial_solution):\n    return 1\n", "1 positional"),
        ("def improve_algorithm(a, b, c, d):\n    return 1\n", "requires more"),
        ("def improve_algorithm(a, b, c, *, key):\n    return 1\n", "requires more"),
        ("def other(a, b, c):\n    return 1\n", "no top-level function"),
        ("def improve_algorithm(a, b, c:\n", "syntax error"),
        ("x = '\0'", None),  # a null byte inside a string literal parses
        (GOOD + "async def improve_algorithm(a, b, c):\n    return 1\n", "async def"),  # the last one counts
    ],
)
def test_improver_problem(source: str, problem: str | None) -> None:
    found = improver_problem(source)
    if problem is None and "improve_algorithm" in source:
        assert found is None
    elif problem is not None:
        assert found is not None and problem in found


def test_the_loader_and_the_loop_agree_on_async_def(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "async_improver.py"
    path.write_text("async def improve_algorithm(initial_solution, utility, language_model):\n    return 1\n")
    with pytest.raises(UsageError, match="async def"):
        load_improver(str(path))
    assert improver_problem(path.read_text()) is not None  # what the loop scores a candidate by


@given(st.text(max_size=300))
def test_any_text_gets_an_answer_never_an_exception(text: str) -> None:
    problem = improver_problem(text)
    if problem is None:
        check_improver_source(text, "x")  # the loader accepts exactly what the check accepts
    else:
        with pytest.raises(UsageError):
            check_improver_source(text, "x")
