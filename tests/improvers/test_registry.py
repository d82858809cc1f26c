"""The improver registry: built-in names resolve to runnable source, bad specs fail with one line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from selftaught.errors import UsageError
from selftaught.improvers import BUILTIN_IMPROVERS, describe_improver, load_improver

SEED_FILE = Path(__file__).parents[2] / "src/selftaught/improvers/builtin/seed.py"


@pytest.mark.parametrize("name", BUILTIN_IMPROVERS)
def test_builtin_is_a_standalone_improver(name: str) -> None:
    source = load_improver(name)
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    # Inside the sandbox only the stdlib, numpy and the `helpers` shim exist.
    assert "selftaught" not in imported
    assert imported <= {"helpers", "math", "random", "zlib", "numpy"}
    assert any(isinstance(n, ast.FunctionDef) and n.name == "improve_algorithm" for n in tree.body)
    description = describe_improver(name)
    assert description and "\n" not in description


def test_seed_is_the_file_on_disk() -> None:
    assert load_improver("seed") == SEED_FILE.read_text()


def test_a_file_path_loads_its_text(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "def improve_algorithm(initial_solution, utility, language_model):\n    return initial_solution\n"
    )
    assert load_improver(str(path)) == path.read_text()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("def improve_algorithm(:\n", "syntax error at line 1"),
        ("def improve(initial_solution, utility, language_model):\n    pass\n", "no top-level function"),
        ("class X:\n    def improve_algorithm(self, a, b, c):\n        pass\n", "no top-level function"),
        ("def improve_algorithm(initial_solution, utility):\n    pass\n", "takes 2 positional"),
        ("def improve_algorithm(a, b, c, d):\n    pass\n", "requires more than"),
        ("def improve_algorithm(a, b, c, *, d):\n    pass\n", "requires more than"),
    ],
)
def test_bad_improver_files_say_why(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.py"
    path.write_text(content)
    with pytest.raises(UsageError) as info:
        load_improver(str(path))
    message = str(info.value)
    assert reason in message and "\n" not in message


def test_missing_unknown_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown improver 'greedyy'"):
        load_improver("greedyy")
    with pytest.raises(UsageError, match="improver file not found"):
        load_improver(str(tmp_path / "nope.py"))
    with pytest.raises(UsageError, match="not a regular file"):
        load_improver(str(tmp_path))
    binary = tmp_path / "bin.py"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UsageError, match="not UTF-8"):
        load_improver(str(binary))
    with pytest.raises(UsageError, match="unknown improver"):
        describe_improver("nope")
