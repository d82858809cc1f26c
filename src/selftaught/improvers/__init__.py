"""Improvers by name: the paper's seed improver, our baselines, or a user's file.

An improver is Python *source text*, never an imported module: it only ever runs inside the sandbox
(see `selftaught.sandbox`), so the host reads it, checks that it can be run, and hands the text on.
The built-in ones live in `builtin/` as standalone files in the improver protocol
(`from helpers import extract_code`; `def improve_algorithm(initial_solution, utility, language_model)`),
so they are exactly what a user could have written, and a run can start from any of them.
"""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

from selftaught.codetext import pysource
from selftaught.defaults import suggest
from selftaught.errors import UsageError
from selftaught.userfiles import read_text

BUILTIN_IMPROVERS = ("seed", "greedy", "beam", "genetic", "annealing", "bandit", "cot", "islands")

_DESCRIPTIONS = {
    "seed": "the STOP paper's seed improver: one batch of LM rewrites of the initial solution, best by utility",
    "greedy": "greedy iterative: each round rewrites the best solution so far and keeps a candidate only if it scores higher",
    "beam": "beam search: keeps the 2 best solutions and expands both every round",
    "genetic": "genetic algorithm: population with tournament selection, LM mutation and crossover prompts, elitism",
    "annealing": "simulated annealing: walks over LM rewrites, accepting worse ones with a cooling probability",
    "bandit": "UCB1 bandit over prompt styles and sampling temperatures, greedy on the best solution",
    "cot": "single-shot chain-of-thought prompt (one LM call), best of its answers and the initial solution",
    "islands": "FunSearch/OpenEvolve-style islands: two-parent prompts per island, resets of the weakest from the "
    "best, a (length, score) MAP-Elites archive",
}

MAX_IMPROVER_BYTES = 1_000_000
ENTRY = "improve_algorithm"


def describe_improver(name: str) -> str:
    """One line saying what a built-in improver does (for `--help`, listings and reports)."""
    try:
        return _DESCRIPTIONS[name]
    except KeyError:
        raise UsageError(_unknown(name)) from None


def load_improver(spec: str) -> str:
    """Source text of an improver given by built-in name or by file path.

    Raises `UsageError` with a one-line reason when the spec names nothing, the file cannot be read,
    or the text could never run as an improver (syntax error, no top-level `improve_algorithm` taking
    the three protocol arguments). Whether it *works* is for the sandbox to find out.
    """
    if spec in BUILTIN_IMPROVERS:
        source = (resources.files("selftaught.improvers") / "builtin" / f"{spec}.py").read_text("utf-8")
        check_improver_source(source, f"built-in improver {spec!r}")
        return source
    path = Path(spec)
    if not path.suffix and "/" not in spec and not path.exists():
        raise UsageError(_unknown(spec))
    if not path.exists():
        raise UsageError(f"improver file not found: {spec}")
    source = read_text(path, f"improver {spec}", limit=MAX_IMPROVER_BYTES)
    check_improver_source(source, spec)
    return source


def improver_problem(source: str) -> str | None:
    """Why `source` can never run as an improver (None when it can): the one check, used everywhere.

    A syntax error, no top-level `improve_algorithm`, an `async def` one (it would return a coroutine,
    not a program), or one that cannot be called as `(initial_solution, utility, language_model)`.
    Whether it *works* is for the sandbox to find out.
    """
    try:
        tree = pysource.parse(source)
    except pysource.SourceError as exc:  # a syntax error, NUL bytes, or too deep or large to parse
        return pysource.describe(exc)
    functions = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == ENTRY
    ]
    if not functions:
        return f"no top-level function {ENTRY}(initial_solution, utility, language_model)"
    function = functions[-1]  # the last definition is the one a module ends up with
    if isinstance(function, ast.AsyncFunctionDef):
        return f"{ENTRY} is `async def`; it must be a plain function returning the improved program"
    arguments = function.args
    positional = len(arguments.posonlyargs) + len(arguments.args)
    if positional < 3 and arguments.vararg is None:
        return (
            f"{ENTRY} takes {positional} positional argument(s); it must accept "
            "(initial_solution, utility, language_model)"
        )
    required = positional - len(arguments.defaults)
    missing_kw = [
        a.arg for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d is None
    ]
    if required > 3 or missing_kw:
        return f"{ENTRY} requires more than (initial_solution, utility, language_model)"
    return None


def check_improver_source(source: str, where: str) -> None:
    """`improver_problem` as a one-line `UsageError` naming `where` (user-supplied improvers)."""
    problem = improver_problem(source)
    if problem is not None:
        raise UsageError(f"{where}: {problem}")


def _unknown(name: str) -> str:
    return (
        f"unknown improver {name!r}{suggest(name, list(BUILTIN_IMPROVERS))} (built-in: "
        f"{', '.join(BUILTIN_IMPROVERS)}; or give a path to a .py file)"
    )
