"""Operators that know the shape of an improver, so the offline model can improve improvers too.

An improver is a function `(initial_solution, utility, language_model)` that calls
`language_model.batch_prompt` / `.prompt`, extracts code and keeps the best by `utility`. These
operators make the changes a language model typically proposes at the meta level, written the way an
author would: more query rounds (bounded by the model's budget), rising temperatures across rounds,
keeping the initial solution as a candidate, and iterative refinement that feeds the best program back
in. The generic operators (numeric perturbation in particular) then tune the counts they introduce.
"""

from __future__ import annotations

import ast
import copy

from selftaught.codetext.pysource import PARSE_LOCK
from selftaught.lm.offline.operators import MutationContext, statement_lists

_LM_METHODS = frozenset({"batch_prompt", "prompt"})


def is_improver(tree: ast.AST) -> bool:
    """True when the program calls a language model's `prompt` or `batch_prompt`."""
    return any(_lm_call(node) is not None for node in ast.walk(tree))


def _lm_call(node: ast.AST) -> ast.Call | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _LM_METHODS:
        return node
    return None


def _fresh_name(tree: ast.AST, base: str) -> str:
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | {
        arg.arg for node in ast.walk(tree) if isinstance(node, ast.arguments) for arg in node.args
    }
    name, i = base, 2
    while name in used:
        name, i = f"{base}{i}", i + 1
    return name


def _stmt(source: str) -> ast.stmt:
    with PARSE_LOCK:
        return ast.parse(source).body[0]


def more_rounds(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Turn `xs = lm.batch_prompt(...)` into R rounds that accumulate answers (R <= the LM budget)."""
    sites = []
    for body in statement_lists(tree):
        for i, stmt in enumerate(body):
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and (call := _lm_call(stmt.value)) is not None
                and isinstance(call.func, ast.Attribute)
            ):
                sites.append((body, i, stmt, call))
    if not sites:
        return None
    body, i, stmt, call = ctx.rng.choice(sites)
    assert isinstance(stmt.targets[0], ast.Name) and isinstance(call.func, ast.Attribute)
    target = stmt.targets[0].id
    model = ast.unparse(call.func.value)
    rounds = ctx.rng.choice([2, 3, 4])
    counter = _fresh_name(tree, "round_index")
    description = f"query the model in up to {rounds} rounds and pool all answers"
    new_call = copy.deepcopy(call)
    warmer = ctx.rng.random() < 0.5
    if warmer:
        for keyword in new_call.keywords:
            if keyword.arg == "temperature":
                keyword.value = _expr(f"min(1.2, {ast.unparse(keyword.value)} + 0.1 * {counter})")
                description += ", warming the temperature each round"
    loop = _stmt(f"for {counter} in range(min({rounds}, {model}.budget)):\n    {target} += None")
    assert isinstance(loop, ast.For) and isinstance(loop.body[0], ast.AugAssign)
    loop.body[0].value = new_call
    body[i : i + 1] = [_stmt(f"{target} = []"), loop]
    return description


def _expr(source: str) -> ast.expr:
    with PARSE_LOCK:
        return ast.parse(source, mode="eval").body


def keep_initial(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Add the improver's input to the candidates of `max(..., key=...)`, so the result never gets
    worse than what came in."""
    sites = []
    for function in (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)):
        if not function.args.args:
            continue
        initial = function.args.args[0].arg
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("max", "sorted")
                and node.args
                and any(k.arg == "key" for k in node.keywords)
                and not any(isinstance(n, ast.Name) and n.id == initial for n in ast.walk(node.args[0]))
            ):
                sites.append((node, initial))
    if not sites:
        return None
    call, initial = ctx.rng.choice(sites)
    call.args[0] = _expr(f"list({ast.unparse(call.args[0])}) + [{initial}]")
    return "keep the initial solution as a candidate so the result is never worse"


def iterate_refinement(tree: ast.Module, ctx: MutationContext) -> str | None:
    """Wrap the body of an improver (from the first use of its input to the final return) in a loop
    that feeds the best program of each step back in as the next step's input."""
    for function in (node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)):
        params = [arg.arg for arg in function.args.args]
        if len(params) < 3 or not is_improver(function):
            continue
        body = function.body
        if not body or not isinstance(body[-1], ast.Return) or not isinstance(body[-1].value, ast.Name):
            continue
        best = body[-1].value.id
        start = next(
            (
                i
                for i, stmt in enumerate(body[:-1])
                if any(isinstance(n, ast.Name) and n.id == params[0] for n in ast.walk(stmt))
            ),
            None,
        )
        if start is None or best == params[0]:
            continue
        steps = ctx.rng.choice([2, 3])
        counter = _fresh_name(tree, "step")
        loop = _stmt(f"for {counter} in range(min({steps}, {params[2]}.budget)):\n    pass")
        assert isinstance(loop, ast.For)
        loop.body = [*body[start:-1], _stmt(f"{params[0]} = {best}")]
        function.body = [*body[:start], loop, body[-1]]
        return f"refine iteratively: feed the best program back in for up to {steps} steps"
    return None
