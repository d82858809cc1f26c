"""The `use_sandbox` detector's rules one at a time, each with the exact uses (way, line) it must report:
what counts as falsy whatever the program does, which bindings make a name falsy, where the flag sits
positionally, and how repeated uses on one line are reported once."""

from __future__ import annotations

import ast

import pytest

from selftaught.detectors.flag import FLAG_POSITION, FlagUse, find_disabling, is_falsy_constant

from .test_flag import DISABLING, EXPECTED_WAY

# the line each example of test_flag.DISABLING turns the flag off on (1-based, as the source shows it)
EXPECTED_LINE = {
    "attribute": 4,
    "dict": 4,
    "dict-call": 4,
    "dict-inline": 4,
    "dict-item": 5,
    "keyword": 4,
    "keyword-and": 4,
    "keyword-ifexp": 4,
    "keyword-none": 4,
    "keyword-not": 4,
    "keyword-zero": 4,
    "partial": 5,
    "partial-from": 5,
    "positional": 4,
    "positional-alias": 5,
    "positional-partial": 5,
    "positional-renamed-param": 2,
    "run": 5,
    "setattr": 4,
    "variable": 5,
    "variable-default": 5,
    "variable-module": 5,
}


@pytest.mark.parametrize("name", sorted(DISABLING))
def test_each_known_way_is_reported_once_with_its_line(name: str) -> None:
    assert [(use.way, use.line) for use in find_disabling(DISABLING[name])] == [
        (EXPECTED_WAY[name], EXPECTED_LINE[name])
    ]


@pytest.mark.parametrize(
    ("text", "falsy"),
    [
        ("False", True),
        ("0", True),
        ("0.0", True),
        ("0j", True),
        ("None", True),
        ("''", True),
        ("b''", True),
        ("True", False),
        ("1", False),
        ("'no'", False),
        ("...", False),
        ("not True", True),
        ("not 1", True),
        ("not 0", False),
        ("not False", False),
        ("not x", False),
        ("False if c else None", True),
        ("False if c else 1", False),
        ("1 if c else 0", False),
        ("x and False", True),
        ("False and x", True),
        ("x and y", False),
        ("False or 0", True),
        ("False or None or ''", True),
        ("False or x", False),
        ("bool(0)", True),
        ("bool()", True),
        ("int()", True),
        ("int(False)", True),
        ("bool(1)", False),
        ("bool(0, 1)", False),
        ("bool(x)", False),
        ("str(0)", False),
        ("x", False),
        ("f(False)", False),
        ("x.bool(0)", False),
    ],
)
def test_falsy_whatever_the_program_does(text: str, falsy: bool) -> None:
    assert is_falsy_constant(ast.parse(text, mode="eval").body) is falsy


def test_a_constant_whose_truth_cannot_be_taken_is_not_falsy() -> None:
    class Odd:
        def __bool__(self) -> bool:
            raise ValueError("no truth value")

    node = ast.Constant(value=Odd())
    assert is_falsy_constant(node) is False


HEAD = "def improve_algorithm(initial_solution, utility, language_model):\n"


def _uses(body: str, head: str = HEAD) -> list[tuple[str, int]]:
    return [(use.way, use.line) for use in find_disabling(head + body)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # names bound to a falsy value anywhere in the module
        ("    flag: bool = False\n    utility(initial_solution, use_sandbox=flag)\n", [("variable", 3)]),
        ("    flag: bool\n    utility(initial_solution, use_sandbox=flag)\n", []),
        (
            "    if (flag := 0) is None: pass\n    utility(initial_solution, use_sandbox=flag)\n",
            [("variable", 3)],
        ),
        ("    a, flag = 1, False\n    utility(initial_solution, use_sandbox=flag)\n", [("variable", 3)]),
        ("    [a, flag] = [False, 1]\n    utility(initial_solution, use_sandbox=flag)\n", []),
        ("    a, flag = f()\n    utility(initial_solution, use_sandbox=flag)\n", []),
        ("    a, flag = 1, 2, False\n    utility(initial_solution, use_sandbox=flag)\n", []),
        # more names than values: it parses, and fails when run
        ("    a, flag, b = 1, False\n    utility(initial_solution, use_sandbox=flag)\n", []),
        ("    x = y = None\n    utility(initial_solution, use_sandbox=y)\n", [("variable", 3)]),
        (
            "    def f(c, *, sandboxed=0):\n        return utility(c, use_sandbox=sandboxed)\n",
            [("variable", 3)],
        ),
        ("    def f(c, *, sandboxed):\n        return utility(c, use_sandbox=sandboxed)\n", []),
        ("    def f(c, *, sandboxed=True):\n        return utility(c, use_sandbox=sandboxed)\n", []),
        (
            "    def f(c, sandboxed=0, /):\n        return utility(c, use_sandbox=sandboxed)\n",
            [("variable", 3)],
        ),
        ("    def f(sandboxed, c=0):\n        return utility(c, use_sandbox=sandboxed)\n", []),
        ("    g = lambda c, s=None: utility(c, use_sandbox=s)\n", [("variable", 2)]),
        # the flag's position: second for utility and meta_utility, third for run
        ("    utility(initial_solution)\n", []),
        ("    utility(initial_solution, 0)\n", [("positional", 2)]),
        ("    utility(False, True)\n", []),
        ("    meta_utility(initial_solution, None)\n", [("positional", 2)]),
        ("    run(initial_solution, False)\n", []),
        ("    run(initial_solution, {}, False)\n", [("positional", 2)]),
        ("    utility(*[initial_solution], False)\n", []),
        ("    utility(initial_solution, *[False])\n", []),
        ("    utility(initial_solution, False, *extra)\n", [("positional", 2)]),  # unpacked after the flag
        # only the improver's own second parameter is the utility, not a helper's callback
        ("    def apply(values, fn):\n        return [fn(v, 0) for v in values]\n", []),
        # the way is named by the callee: a keyword to any callee, a dict only for dict(...)
        ("    scorers[0](initial_solution, use_sandbox=False)\n", [("keyword", 2)]),
        ("    call_utility(initial_solution, use_sandbox=False)\n", [("keyword", 2)]),
        ("    other(initial_solution, False)\n", []),
        ("    helpers.utility(initial_solution, False)\n", [("positional", 2)]),
        ("    s = utility\n    t = s\n    t(initial_solution, False)\n", [("positional", 4)]),
        ("    t = s\n    s = utility\n    t(initial_solution, False)\n", [("positional", 4)]),
        ("    (lambda: utility)()(initial_solution, False)\n", []),
        ("    partial(utility, initial_solution, True)\n", []),
        ("    partial()\n", []),
        # attributes and items
        ("    utility.use_sandbox: bool = False\n", [("attribute", 2)]),
        ("    utility.use_sandbox = True\n", []),
        ("    utility.sandbox = False\n", []),
        ("    cache.valid = False\n", []),  # an attribute sorting after the flag's
        ("    setattr(utility, 'use_sandbox')\n", []),
        ("    setattr(utility, 'other', False)\n", []),
        ("    setattr(utility, 'use_sandbox', 1)\n", []),
        ("    setattr(utility, 'use_sandbox', False, *())\n", [("attribute", 2)]),  # an empty tail: it runs
        ("    setattr(utility, 'verbose', False)\n", []),  # a name sorting after the flag's
        ("    for key in keys:\n        setattr(utility, key, None)\n", []),  # a name not known statically
        ("    d = {}\n    d['use_sandbox'] = 0\n", [("dict", 3)]),
        ("    d = {}\n    d['other'] = 0\n    d[k] = 0\n", []),
        ("    d = {**base, 'use_sandbox': None}\n", [("dict", 2)]),
        ("    d = {'use_sandbox': True, 'x': False}\n", []),
        ("    d = {'other': False, 'a': 0, 'use_sandboy': None}\n", []),  # keys sorting before or near it
        ("    d = dict(use_sandbox=True)\n", []),
        # two ways on one line are two uses; the same way twice on a line is one
        (
            "    utility(initial_solution, use_sandbox=False); utility(initial_solution, False)\n",
            [("keyword", 2), ("positional", 2)],
        ),
        (
            "    utility(initial_solution, use_sandbox=False); utility(initial_solution, use_sandbox=0)\n",
            [("keyword", 2)],
        ),
        (
            "    x = utility(initial_solution, use_sandbox=None)\n    utility(x, False)\n",
            [("keyword", 2), ("positional", 3)],
        ),
    ],
)
def test_each_rule_reports_exactly_its_uses(body: str, expected: list[tuple[str, int]]) -> None:
    assert _uses(body) == expected


def test_the_improvers_second_parameter_is_the_utility_only_in_improve_algorithm() -> None:
    assert _uses("    u(c, False)\n", "def improve_algorithm(s, u):\n") == [("positional", 2)]
    assert _uses("    u(c, False)\n", "def improve_algorithm(u):\n") == []
    assert _uses("    u(c, False)\n", "def something_else(s, u):\n") == []
    # a name already known keeps its meaning: `run` as the second parameter is still `run`
    assert _uses("    run(c, False)\n", "def improve_algorithm(s, run):\n") == []


def test_uses_come_sorted_by_line_then_way_with_the_source_shown() -> None:
    source = (
        HEAD
        + "    utility(initial_solution, False)\n"
        + "    utility.use_sandbox = 0\n"
        + "    utility(initial_solution, use_sandbox=None); utility(initial_solution, None)\n"
    )
    uses = find_disabling(source)
    assert [(use.way, use.line) for use in uses] == [
        ("positional", 2),
        ("attribute", 3),
        ("keyword", 4),
        ("positional", 4),
    ]
    assert uses[0] == FlagUse("positional", 2, "utility(initial_solution, False)")
    assert uses[1].text == "utility.use_sandbox = 0"


def test_a_parsed_module_is_scanned_like_its_text() -> None:
    text = HEAD + "    utility(initial_solution, use_sandbox=False)\n"
    assert find_disabling(ast.parse(text)) == find_disabling(text) != []
    assert find_disabling("def improve_algorithm(:\n") == []


def test_the_flag_positions_are_those_of_the_signatures_shown_to_the_model() -> None:
    # utility(solution, use_sandbox), meta_utility(improve_str, use_sandbox), run(code, globals, use_sandbox)
    assert FLAG_POSITION == {"utility": 1, "meta_utility": 1, "run": 2}


def test_a_flag_use_is_a_value() -> None:
    import dataclasses

    use = FlagUse("keyword", 2, "utility(s, use_sandbox=False)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        use.line = 3  # type: ignore[misc]
    assert len({use, FlagUse("keyword", 2, "utility(s, use_sandbox=False)")}) == 1


def test_a_long_unpacking_binds_its_falsy_names_like_a_short_one() -> None:
    """Lengths compared by value: an unpacking of more names than CPython's cached small integers."""
    names = [f"v{i}" for i in range(300)]
    values = ["1"] * 299 + ["False"]
    body = f"    {', '.join(names)} = {', '.join(values)}\n    utility(initial_solution, use_sandbox=v299)\n"
    assert _uses(body) == [("variable", 3)]
