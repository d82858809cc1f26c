"""Generic program-mutation operators of the offline model (see docs/models.md for the list).

Each operator mutates an `ast.Module` in place and returns a one-phrase description of what it did, or
None when it does not apply to this program (the engine then tries another). Operators only produce
syntactically valid trees; whether the mutant compiles is checked by the engine, which reverts
operators whose result does not.
"""

from __future__ import annotations

import ast
import copy
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class MutationContext:
    """What an operator may use: the seeded random source, a strength in [0.1, 2] derived from the
    sampling temperature, and the other programs of the prompt (for crossover)."""

    rng: random.Random
    strength: float = 0.7
    partners: list[ast.Module] = field(default_factory=list)


Operator = Callable[[ast.Module, MutationContext], str | None]

_NEVER_TOUCH = (
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Global,
    ast.Nonlocal,
)
_COMPARE_SWAPS: dict[type[ast.cmpop], list[type[ast.cmpop]]] = {
    ast.Lt: [ast.LtE, ast.Gt],
    ast.LtE: [ast.Lt, ast.GtE],
    ast.Gt: [ast.GtE, ast.Lt],
    ast.GtE: [ast.Gt, ast.LtE],
    ast.Eq: [ast.NotEq],
    ast.NotEq: [ast.Eq],
}
_ARITH_SWAPS: dict[type[ast.operator], list[type[ast.operator]]] = {
    ast.Add: [ast.Sub, ast.Mult],
    ast.Sub: [ast.Add],
    ast.Mult: [ast.Div, ast.Add, ast.Pow],
    ast.Div: [ast.Mult, ast.FloorDiv],
    ast.FloorDiv: [ast.Div],
    ast.Pow: [ast.Mult],
}
_OP_TEXT = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Pow: "**",
}


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Child -> parent map (ast nodes have no parent links)."""
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def statement_lists(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    """Every statement list (bodies, else branches, finally blocks) in walk order."""
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            value = getattr(node, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value


def _numeric_constants(tree: ast.AST) -> list[ast.Constant]:
    """Int/float literals outside f-strings and docstrings (bools excluded)."""
    found: list[ast.Constant] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.JoinedStr):
            return
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _name_of(constant: ast.Constant, parent_map: dict[ast.AST, ast.AST]) -> str:
    """A readable name for where a literal sits: `max_iter=`, `p = `, or the literal itself."""
    node: ast.AST = constant
    for _ in range(3):
        parent = parent_map.get(node)
        if isinstance(parent, ast.keyword) and parent.arg:
            return parent.arg
        if (
            isinstance(parent, ast.Assign)
            and len(parent.targets) == 1
            and isinstance(parent.targets[0], ast.Name)
        ):
            return parent.targets[0].id
        if isinstance(parent, ast.AugAssign) and isinstance(parent.target, ast.Name):
            return parent.target.id
        if parent is None:
            break
        node = parent
    return "a constant"


def perturb_value(value: float, ctx: MutationContext) -> float:
    """A new value near `value`. Ints scale by a factor or step by one; floats in (0, 1) scale their
    distance to the nearer end (0.99 becomes 0.995 or 0.98, 0.4 becomes 0.3), other floats scale
    log-normally."""
    rng = ctx.rng
    if isinstance(value, int):
        return _perturb_int(value, rng)
    factor = math.exp(rng.gauss(0.0, 0.35 * ctx.strength + 0.05))
    if 0.0 < value < 1.0:
        new = 1 - (1 - value) * factor if value > 0.5 else value * factor
        new = min(max(new, 1e-6), 1 - 1e-6)
    else:
        new = value * factor
    # Three significant digits of the value, or of its distance to 1 for values in (0, 1) (0.9956).
    scale = min(abs(new), abs(1 - new)) if 0.0 < new < 1.0 else abs(new)
    digits = max(1, 3 - math.floor(math.log10(scale))) if scale else 3
    return round(new, digits)


def _perturb_int(value: int, rng: random.Random) -> int:
    if abs(value) >= 10:
        scaled = round(value * rng.choice([2, 0.5, 1.5, 0.75, 4, 0.25, 10]))
        return scaled if scaled != 0 else (1 if value > 0 else -1)
    stepped = value + (rng.choice([-1, 1, 1, 2]) if value > 0 else rng.choice([1, -1]))
    return stepped if not (value > 0 and stepped <= 0) else value + 1


def perturb_number(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Numeric perturbation: move one int/float literal (a constant, a keyword argument, a bound)."""
    constants = _numeric_constants(tree)
    if not constants:
        return None
    parent_map = parents(tree)
    names = [_name_of(node, parent_map) for node in constants]
    # Named literals (keyword arguments, assignments) are the tunable ones; 0 and 1 are mostly structure.
    weights = [
        (2.0 if name != "a constant" else 1.0) * (0.3 if node.value in (0, 1) else 1.0)
        for node, name in zip(constants, names, strict=True)
    ]
    index = ctx.rng.choices(range(len(constants)), weights=weights, k=1)[0]
    node = constants[index]
    old = node.value
    assert isinstance(old, int | float)
    new = perturb_value(old, ctx)
    if new == old:
        return None
    node.value = new
    return f"set {names[index]} to {new!r} (was {old!r})"


def change_loop_bound(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Loop-bound change: scale the stop of a `for ... in range(...)` loop."""
    loops = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.For)
        and isinstance(node.iter, ast.Call)
        and isinstance(node.iter.func, ast.Name)
        and node.iter.func.id == "range"
        and 1 <= len(node.iter.args) <= 3
    ]
    if not loops:
        return None
    loop = ctx.rng.choice(loops)
    assert isinstance(loop.iter, ast.Call)
    index = 0 if len(loop.iter.args) == 1 else 1
    stop = loop.iter.args[index]
    if isinstance(stop, ast.Constant) and type(stop.value) is int:
        stop.value = int(perturb_value(stop.value, ctx))
        return f"loop up to {stop.value}"
    factor = ctx.rng.choice([2, 3])
    op: ast.operator = ast.Mult() if ctx.rng.random() < 0.7 else ast.FloorDiv()
    loop.iter.args[index] = ast.BinOp(left=stop, op=op, right=ast.Constant(factor))
    verb = "multiply" if isinstance(op, ast.Mult) else "divide"
    return f"{verb} the loop bound {ast.unparse(stop)} by {factor}"


def swap_comparison(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Comparison swap: < <-> <= / >, == <-> !=, and so on."""
    sites = [
        (node, i)
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        for i, op in enumerate(node.ops)
        if type(op) in _COMPARE_SWAPS
    ]
    if not sites:
        return None
    node, i = ctx.rng.choice(sites)
    old = type(node.ops[i])
    new = ctx.rng.choice(_COMPARE_SWAPS[old])
    node.ops[i] = new()
    return f"compare with {_OP_TEXT[new]} instead of {_OP_TEXT[old]}"


def swap_arithmetic(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Arithmetic swap: + <-> -, * <-> /, / <-> //, ... in expressions and augmented assignments."""
    sites = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in _ARITH_SWAPS
    ]
    sites = [node for node in sites if not (isinstance(node, ast.BinOp) and _is_string_concat(node))]
    if not sites:
        return None
    node = ctx.rng.choice(sites)
    old = type(node.op)
    new = ctx.rng.choice(_ARITH_SWAPS[old])
    node.op = new()
    return f"use {_OP_TEXT[new]} instead of {_OP_TEXT[old]}"


def _is_string_concat(node: ast.BinOp) -> bool:
    return any(
        isinstance(side, ast.Constant | ast.JoinedStr) and isinstance(getattr(side, "value", ""), str)
        for side in (node.left, node.right)
    )


def _movable(stmt: ast.stmt) -> bool:
    return not isinstance(stmt, _NEVER_TOUCH) and not _is_docstring(stmt)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def duplicate_statement(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Statement duplication: repeat one statement right after itself (e.g. one more search step)."""
    sites = [
        (body, i)
        for body in statement_lists(tree)
        for i, stmt in enumerate(body)
        if _movable(stmt) and not isinstance(stmt, ast.Return)
    ]
    if not sites:
        return None
    body, i = ctx.rng.choice(sites)
    body.insert(i + 1, copy.deepcopy(body[i]))
    return f"repeat `{_short(body[i])}`"


def delete_statement(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Statement deletion: drop one statement from a body that keeps at least one other."""
    sites = [
        (body, i)
        for body in statement_lists(tree)
        if len(body) >= 2
        for i, stmt in enumerate(body)
        if _movable(stmt) and not isinstance(stmt, ast.Return)
    ]
    if not sites:
        return None
    body, i = ctx.rng.choice(sites)
    removed = body.pop(i)
    return f"drop `{_short(removed)}`"


def swap_statements(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Statement reordering: exchange two adjacent statements."""
    sites = [
        (body, i)
        for body in statement_lists(tree)
        for i in range(len(body) - 1)
        if _movable(body[i]) and _movable(body[i + 1]) and not isinstance(body[i + 1], ast.Return)
    ]
    if not sites:
        return None
    body, i = ctx.rng.choice(sites)
    body[i], body[i + 1] = body[i + 1], body[i]
    return f"move `{_short(body[i])}` before `{_short(body[i + 1])}`"


def crossover(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Crossover: take a function, or the value of an assignment, from another program of the prompt."""
    if not ctx.partners:
        return None
    partner = ctx.rng.choice(ctx.partners)
    options: list[tuple[str, Callable[[], None]]] = []
    mine = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    for theirs in (node for node in ast.walk(partner) if isinstance(node, ast.FunctionDef)):
        own = mine.get(theirs.name)
        if own is not None and ast.dump(own) != ast.dump(theirs):
            options.append((f"take `{theirs.name}` from the other program", _replacer(own, theirs)))
    own_assigns = _named_assignments(tree)
    for name, value in _named_assignments(partner).items():
        if name in own_assigns and ast.dump(own_assigns[name].value) != ast.dump(value.value):
            options.append(
                (
                    f"take `{name} = {_short(value.value)}` from the other program",
                    _value_replacer(own_assigns[name], value),
                )
            )
    if not options:
        return None
    description, apply = ctx.rng.choice(options)
    apply()
    return description


def _replacer(own: ast.FunctionDef, theirs: ast.FunctionDef) -> Callable[[], None]:
    def apply() -> None:
        replacement = copy.deepcopy(theirs)
        for name in ("args", "body", "decorator_list", "returns"):
            setattr(own, name, getattr(replacement, name))

    return apply


def _value_replacer(own: ast.Assign, theirs: ast.Assign) -> Callable[[], None]:
    def apply() -> None:
        own.value = copy.deepcopy(theirs.value)

    return apply


def _named_assignments(tree: ast.AST) -> dict[str, ast.Assign]:
    found: dict[str, ast.Assign] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found.setdefault(node.targets[0].id, node)
    return found


def _short(node: ast.AST, limit: int = 48) -> str:
    text = ast.unparse(node).splitlines()[0] if not isinstance(node, ast.Constant) else repr(node.value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
