"""Static program checks (never executed) and reading program files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selftaught.errors import UsageError
from selftaught.tasks import read_program, validate_program


@pytest.mark.parametrize(
    "source",
    [
        "def algorithm(x):\n    return x\n",
        "import numpy as np\n\ndef helper():\n    pass\n\ndef algorithm(a, b):\n    return helper()\n",
        "algorithm = lambda x: x\n",
        "from math import sqrt as algorithm\n",
        "try:\n    from numba import njit\nexcept ImportError:\n    pass\nif True:\n    def algorithm(x):\n        return x\n",
        "class algorithm:\n    pass\n",
        "\ufeffdef algorithm(x):\n    return x\n",
    ],
)
def test_valid_programs(source: str) -> None:
    assert validate_program(source.lstrip("\ufeff"), "algorithm") is None


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("", "the program is empty"),
        ("   \n\t\n", "the program is empty"),
        ("def algorithm(x)\n    return x\n", "syntax error at line 1"),
        ("def algorithm(x):\nreturn x\n", "syntax error at line 2"),
        (
            "def solve(x):\n    return x\n",
            "does not define a top-level function 'algorithm' (it defines: solve)",
        ),
        (
            "def outer():\n    def algorithm(x):\n        return x\n",
            "does not define a top-level function 'algorithm'",
        ),
        ("async def algorithm(x):\n    return x\n", "must be a plain function"),
        ("x = 1\x00\n", "NUL bytes"),
        ("(" * 300 + ")" * 300, "syntax error at line 1: too many nested parentheses"),
    ],
)
def test_invalid_programs_give_one_line(source: str, problem: str) -> None:
    found = validate_program(source, "algorithm")
    assert found is not None and problem in found and "\n" not in found


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_validate_program_never_raises(source: str) -> None:
    result = validate_program(source, "algorithm")
    assert result is None or ("\n" not in result and result)


def test_read_program_errors_are_one_line(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_bytes(b"\xef\xbb\xbfdef algorithm(x):\n    return x\n")
    assert read_program(good).startswith("def algorithm")
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# caf\xe9\ndef algorithm(x):\n    return x\n")
    cases = [
        (tmp_path / "missing.py", "does not exist"),
        (tmp_path, "is not a regular file"),
        (latin, "is not UTF-8 (byte 5)"),
    ]
    for path, message in cases:
        with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_program(path)
