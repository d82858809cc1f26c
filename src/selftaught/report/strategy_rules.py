"""The strategy rules: each reads an improver's syntax and returns the nodes that are its evidence.

Only code counts: prompt strings, docstrings and comments are ignored (an improver that *asks* the LM
for a genetic algorithm does not itself run one), which is why every rule reads the syntax tree and
none reads text.

The rules (also in docs/report.md); a strategy is reported when any of its rules fires:

- beam search: an identifier word `beam` / `frontier` (or `tree_search`, `mcts`); or a loop that calls
  the LM and keeps the top k (`sorted(...)[:k]`, `heapq.nlargest/nsmallest`) — unless the genetic rule
  fires, since keeping the top k of a population is a GA's truncation selection.
- genetic algorithm: identifier words from two concept groups out of population, crossover
  (crossover/recombine/breed), mutation, offspring (offspring/children/child), generation, selection
  (tournament/elite/elitism/roulette) and fitness — one of them population or crossover.
- simulated annealing: the Metropolis test (`exp(... / T)` compared with a random draw in one condition),
  or identifier words anneal/annealing/cooling.
- bandit / UCB: the UCB bonus `sqrt(log(...) / ...)`, Thompson sampling (`betavariate`), epsilon-greedy
  (`random() < eps`), or identifier words ucb/ucb1/bandit/bandits/thompson/arm/arms.
- temperature schedule: the temperature given to a call varies — an expression, a loop variable, or a
  name assigned in a loop or from a non-constant expression (a parameter passed straight through is
  judged at its callers) — or a name containing `temp` is bound to two or more numeric constants.
- caching: a `functools.cache` / `lru_cache` decorator, or a memo table: the same container is tested
  with `in` (or `.get`) and written with `container[key] = value` (a `seen` set is not a cache).
- parallel calls: a thread/process pool, thread, or `asyncio.gather` is created or called, from
  concurrent.futures, threading, multiprocessing or asyncio.
- decomposition: the solution is parsed into functions with `ast` (`ast.parse` plus a FunctionDef/
  ClassDef/get_source_segment), or a loop over split/splitlines pieces calls the LM, or identifier words
  decompose/decomposition/subproblem(s)/subtask(s)/chunk(s)/segment(s)/parts.
- local search: a loop that calls the LM (directly or through a function of the module that does) and
  rebinds, under an ordering comparison (`if new > best:`), a variable the loop reads — hill climbing on
  an incumbent; or identifier words hill/climb/climbing/neighbor/neighbour/neighbourhood.

Labels are not exclusive: annealing and bandit-driven improvers also refine an incumbent, so they are
usually reported as local search too; that is the point of listing evidence lines.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from selftaught.report.strategy_syntax import ImproverCode, called_name, calls, names_of, words


def _is_random_draw(node: ast.AST) -> bool:
    return any(called_name(call) in ("random", "rand", "uniform") for call in calls(node))


def _beam(code: ImproverCode) -> list[ast.AST]:
    hits = code.word_hits({"beam", "frontier", "mcts"})
    hits += [node for name, node in code.identifiers if "treesearch" in name.lower().replace("_", "")]
    if _genetic(code):
        return hits  # keeping the top k of a population is a GA's truncation selection, not a beam
    for loop in code.loops():
        if not code.calls_lm(loop):
            continue
        hits += [node for node in ast.walk(loop) if _keeps_top_k(node)]
    return hits


def _keeps_top_k(node: ast.AST) -> bool:
    """`sorted(...)[:k]` or `heapq.nlargest(k, ...)` / `nsmallest`."""
    if isinstance(node, ast.Call):
        return called_name(node) in ("nlargest", "nsmallest")
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Slice)
        and node.slice.lower is None
        and node.slice.upper is not None
        and isinstance(node.value, ast.Call)
        and called_name(node.value) == "sorted"
    )


_GENETIC_GROUPS = {
    "population": {"population", "populations"},
    "crossover": {"crossover", "recombine", "recombination", "breed"},
    "mutation": {"mutate", "mutation", "mutations", "mutant"},
    "offspring": {"offspring", "children", "child"},
    "generation": {"generation", "generations"},
    "selection": {"tournament", "elite", "elites", "elitism", "roulette"},
    "fitness": {"fitness"},
}


def _genetic(code: ImproverCode) -> list[ast.AST]:
    found: dict[str, list[ast.AST]] = {}
    for group, vocabulary in _GENETIC_GROUPS.items():
        nodes = code.word_hits(vocabulary)
        if nodes:
            found[group] = nodes
    if len(found) >= 2 and ("population" in found or "crossover" in found):
        return [nodes[0] for nodes in found.values()]
    return []


def _annealing(code: ImproverCode) -> list[ast.AST]:
    hits = code.word_hits({"anneal", "annealing", "cooling"})
    for node in code.nodes:
        if not isinstance(node, (ast.Compare, ast.BoolOp)):
            continue
        exps = [
            call
            for call in calls(node)
            if called_name(call) == "exp"
            and any(
                isinstance(part, ast.BinOp) and isinstance(part.op, ast.Div)
                for arg in call.args
                for part in ast.walk(arg)
            )
        ]
        if exps and _is_random_draw(node):
            hits.append(node)
    return hits


def _bandit(code: ImproverCode) -> list[ast.AST]:
    hits = code.word_hits({"ucb", "ucb1", "bandit", "bandits", "thompson", "arm", "arms"})
    return hits + [
        node for node in code.nodes if _ucb_bonus(node) or _thompson(node) or _epsilon_greedy(node)
    ]


def _ucb_bonus(node: ast.AST) -> bool:
    """`sqrt(log(n) / pulls)` (any constant factors)."""
    if not (isinstance(node, ast.Call) and called_name(node) == "sqrt" and node.args):
        return False
    inner = node.args[0]
    return any(isinstance(call, ast.Call) and called_name(call) == "log" for call in ast.walk(inner)) and any(
        isinstance(part, ast.BinOp) and isinstance(part.op, ast.Div) for part in ast.walk(inner)
    )


def _thompson(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and called_name(node) == "betavariate"


def _epsilon_greedy(node: ast.AST) -> bool:
    """`random() < epsilon` (the comparator names eps / epsilon / explore / exploration)."""
    return (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.Lt)
        and _is_random_draw(node.left)
        and any(
            {"eps", "epsilon", "explore", "exploration"} & set(words(name))
            for name in _names_in(node.comparators[0])
        )
    )


def _names_in(node: ast.AST) -> list[str]:
    return [name for child in ast.walk(node) for name in names_of(child)]


def _temperature(code: ImproverCode) -> list[ast.AST]:
    bindings = _bindings(code)
    hits: list[ast.AST] = []
    for call in (node for node in code.nodes if isinstance(node, ast.Call)):
        for keyword in call.keywords:
            if keyword.arg == "temperature" and _varies(code, bindings, keyword.value):
                hits.append(call)
        for arg in call.args:
            if (
                isinstance(arg, ast.Name)
                and {"temperature", "temp"} & set(words(arg.id))
                and _varies(code, bindings, arg)
            ):
                hits.append(call)
    for node in code.nodes:
        if (
            isinstance(node, ast.Assign)
            and _constant_collection(node.value, minimum=2)
            and any(isinstance(target, ast.Name) and "temp" in target.id.lower() for target in node.targets)
        ):
            hits.append(node)
    return hits


# A name's bindings: (the statement that binds it, the value bound), where an augmented assignment or a
# loop stands for its own value (neither binds a value known before it runs).
_Bindings = dict[str, list[tuple[ast.AST, ast.AST | None]]]


def _bindings(code: ImproverCode) -> _Bindings:
    """Every name the module binds, with each statement that binds it (one pass, shared by every call)."""
    found: _Bindings = {}
    for node in code.nodes:
        targets: list[ast.AST] = []
        value: ast.AST | None = None
        if isinstance(node, ast.Assign):
            targets, value = list(node.targets), node.value
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets, value = [node.target], (node.value if isinstance(node, ast.AnnAssign) else node)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            targets, value = [node.target], node  # a loop variable always varies
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    found.setdefault(name.id, []).append((node, value))
    return found


def _varies(code: ImproverCode, bindings: _Bindings, expr: ast.AST) -> bool:
    """Whether the temperature `expr` can differ between calls: not a constant, nor a name bound only
    to constants outside loops (a parameter passed through is judged where its function is called)."""
    if isinstance(expr, ast.Constant):
        return False
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.operand, ast.Constant):
        return False
    if not isinstance(expr, ast.Name):
        return True
    scope = code.function_of(expr)
    if scope is not None and expr.id in _parameters(scope):
        return False
    found = [
        (binder, value) for binder, value in bindings.get(expr.id, []) if code.function_of(binder) is scope
    ] or bindings.get(expr.id, [])
    return any(
        value is None
        or value is binder
        or isinstance(binder, (ast.For, ast.AsyncFor, ast.comprehension))
        or code.inside_loop(binder)
        or (not isinstance(value, (ast.Constant, ast.Name)) and not _constant_collection(value))
        for binder, value in found
    )


def _parameters(function: ast.AST) -> set[str]:
    args = (
        function.args if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else None
    )
    if args is None:
        return set()
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, *filter(None, [args.vararg, args.kwarg])]
    return {arg.arg for arg in every}


def _constant_collection(node: ast.AST | None, minimum: int = 1) -> bool:
    if not isinstance(node, (ast.List, ast.Tuple, ast.Set)) or len(node.elts) < minimum:
        return False
    return all(isinstance(elt, ast.Constant) and isinstance(elt.value, (int, float)) for elt in node.elts)


def _caching(code: ImproverCode) -> list[ast.AST]:
    hits: list[ast.AST] = []
    for node in code.nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if names_of(target) and names_of(target)[0] in ("cache", "lru_cache", "memoize", "cached"):
                    hits.append(decorator)
    tested: dict[str, ast.AST] = {}
    written: dict[str, ast.AST] = {}
    for node in code.nodes:
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            for comparator in node.comparators:
                if isinstance(comparator, (ast.Name, ast.Attribute)):
                    tested.setdefault(ast.unparse(comparator), node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, (ast.Name, ast.Attribute))
        ):
            tested.setdefault(ast.unparse(node.func.value), node)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, (ast.Name, ast.Attribute))
        ):
            written.setdefault(ast.unparse(node.value), node)
    for container in tested.keys() & written.keys():
        hits += [tested[container], written[container]]
    return hits


_PARALLEL_MODULES = ("concurrent", "threading", "multiprocessing", "asyncio")
_PARALLEL_CALLS = frozenset(
    {
        "ThreadPoolExecutor",
        "ProcessPoolExecutor",
        "Thread",
        "Pool",
        "Process",
        "gather",
        "create_task",
        "ThreadPool",
    }
)


def _parallel(code: ImproverCode) -> list[ast.AST]:
    imported = any(
        (
            isinstance(node, ast.Import)
            and any(alias.name.split(".")[0] in _PARALLEL_MODULES for alias in node.names)
        )
        or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _PARALLEL_MODULES)
        for node in code.nodes
    )
    if not imported:
        return []
    return [
        node for node in code.nodes if isinstance(node, ast.Call) and called_name(node) in _PARALLEL_CALLS
    ]


_DECOMPOSITION_WORDS = frozenset(
    {"decompose", "decomposition", "subproblem", "subproblems", "subtask", "subtasks"}
    | {"chunk", "chunks", "segment", "segments", "parts"}
)


def _decomposition(code: ImproverCode) -> list[ast.AST]:
    hits = code.word_hits(_DECOMPOSITION_WORDS)
    parses = [
        node
        for node in code.nodes
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "parse"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "ast"
    ]
    pieces = [
        node
        for node in code.nodes
        if isinstance(node, ast.Attribute) and node.attr in ("FunctionDef", "ClassDef", "get_source_segment")
    ]
    if parses and pieces:
        hits += [parses[0], pieces[0]]
    split_names = {
        target.id
        for node in code.nodes
        if isinstance(node, ast.Assign) and _splits(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for loop in code.loops():
        if (
            isinstance(loop, (ast.For, ast.AsyncFor))
            and (_splits(loop.iter) or (isinstance(loop.iter, ast.Name) and loop.iter.id in split_names))
            and any(code.calls_lm(statement) for statement in loop.body)
        ):
            hits.append(loop)
    return hits


def _splits(node: ast.AST) -> bool:
    return any(
        isinstance(call, ast.Call) and called_name(call) in ("split", "splitlines") for call in ast.walk(node)
    )


_LOCAL_SEARCH_WORDS = frozenset(
    {"hill", "climb", "climbing", "hillclimb"}
    | {"neighbor", "neighbour", "neighbors", "neighbours", "neighbourhood", "neighborhood"}
)


def _local_search(code: ImproverCode) -> list[ast.AST]:
    hits = code.word_hits(_LOCAL_SEARCH_WORDS)
    for loop in code.loops():
        if not code.calls_lm(loop):
            continue
        read = {
            node.id
            for node in ast.walk(loop)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
        }
        for node in ast.walk(loop):
            if not (
                isinstance(node, ast.If)
                and any(
                    isinstance(part, ast.Compare)
                    and isinstance(part.ops[0], (ast.Gt, ast.GtE, ast.Lt, ast.LtE))
                    for part in ast.walk(node.test)
                )
            ):
                continue
            rebound = {
                name.id
                for statement in node.body
                if isinstance(statement, (ast.Assign, ast.AugAssign))
                for target in (statement.targets if isinstance(statement, ast.Assign) else [statement.target])
                for name in ast.walk(target)
                if isinstance(name, ast.Name)
            }
            if rebound & read:
                hits.append(node)
    return hits


RULES: dict[str, Callable[[ImproverCode], list[ast.AST]]] = {
    "beam search": _beam,
    "genetic algorithm": _genetic,
    "simulated annealing": _annealing,
    "bandit / UCB": _bandit,
    "temperature schedule": _temperature,
    "caching": _caching,
    "parallel calls": _parallel,
    "decomposition": _decomposition,
    "local search": _local_search,
}
