"""The import contract: layers import downwards only (docs/architecture.md), no cycle whitelisted.

An equivalent of an import-linter "layers" contract, without the dependency: every `import` in
src/selftaught (module level, inside functions and under TYPE_CHECKING alike) is checked against the
layer list below. A module may import its own package, and any package in a lower layer; never a higher
layer, and never a sibling in its own layer (siblings are independent).
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "selftaught"

# Top to bottom. Each entry is a package (or module) that is one unit of the contract.
LAYERS: list[list[str]] = [
    ["selftaught", "selftaught.__main__", "selftaught.testing"],
    ["selftaught.cli"],
    ["selftaught.serve"],
    ["selftaught.safety", "selftaught.report"],
    ["selftaught.stop"],
    ["selftaught.executors"],
    ["selftaught.tasks", "selftaught.improvers", "selftaught.lm", "selftaught.detectors"],
    ["selftaught.sandbox", "selftaught.store", "selftaught.config"],
    [
        "selftaught.events",
        "selftaught.failure",
        "selftaught.userfiles",
        "selftaught.defaults",
        "selftaught.estimates",
    ],
    ["selftaught.errors", "selftaught._version", "selftaught.sandbox.inside"],
    ["selftaught.codetext"],
]
# Code users write in the directory format (built-in tasks and improvers) is data, not the package's code.
DATA = ("selftaught.tasks.builtin", "selftaught.improvers.builtin")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: path for name, path in found.items() if not name.startswith(DATA)}


@functools.cache
def parsed(path: Path) -> ast.Module:
    """A source file's tree, parsed once per session: every test here walks the same ~150 files."""
    return ast.parse(path.read_text(encoding="utf-8"))


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every selftaught module `path` imports, `from selftaught import x` resolved to the module x."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {target for target in found if target == "selftaught" or target.startswith("selftaught.")}


def unit(name: str) -> tuple[int, str]:
    """(layer index, unit) of a module: the longest layer entry it falls under."""
    best: tuple[int, str] | None = None
    for index, layer in enumerate(LAYERS):
        for entry in layer:
            inside = name == entry or (
                entry != "selftaught" and name.startswith(entry + ".")
            )  # the root: itself only
            if inside and (best is None or len(entry) > len(best[1])):
                best = (index, entry)
    assert best is not None, f"{name} is in no layer: add it to LAYERS and docs/architecture.md"
    return best


def violations() -> list[str]:
    found = modules()
    known = set(found)
    problems = []
    for name, path in sorted(found.items()):
        layer, owner = unit(name)
        for target in sorted(imports(path, name, known)):
            if target not in known:  # mypy ignores missing imports; a stale path must not hide here
                problems.append(f"{name} imports {target}, which does not exist")
                continue
            target_layer, target_owner = unit(target)
            if target_owner == owner:
                continue
            if target_layer < layer:
                problems.append(f"{name} imports {target}: a higher layer ({target_owner} above {owner})")
            elif target_layer == layer:
                problems.append(
                    f"{name} imports {target}: siblings {owner} and {target_owner} are independent"
                )
    return problems


def test_imports_go_one_way() -> None:
    assert violations() == []


def test_runtime_code_does_not_import_the_test_scaffolding() -> None:
    found = modules()
    offenders = [
        name
        for name, path in found.items()
        if not name.startswith("selftaught.testing")
        and any(t.startswith("selftaught.testing") for t in imports(path, name, set(found)))
    ]
    assert offenders == []


def test_code_inside_the_sandbox_imports_nothing_from_the_package() -> None:
    """Only `inside/` and the reply extractor `codetext/` are mounted into the sandbox."""
    found = modules()
    mounted = {
        name: path
        for name, path in found.items()
        if name.startswith(("selftaught.sandbox.inside", "selftaught.codetext"))
    }
    assert any(name.startswith("selftaught.codetext") for name in mounted)
    for name, path in mounted.items():
        assert imports(path, name, set(found)) <= set(mounted), name


def test_the_reply_extractor_imports_nothing_from_the_package() -> None:
    found = modules()
    leaf = {name: path for name, path in found.items() if name.startswith("selftaught.codetext")}
    assert leaf
    for name, path in leaf.items():
        assert imports(path, name, set(found)) <= set(leaf), name


def test_the_language_model_layer_imports_nothing_from_the_sandbox() -> None:
    found = modules()
    offenders = [
        f"{name} imports {target}"
        for name, path in found.items()
        if name.startswith("selftaught.lm")
        for target in imports(path, name, set(found))
        if target.startswith("selftaught.sandbox")
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("importer", "target", "allowed"),
    [
        ("selftaught.stop.loop", "selftaught.store.db", True),
        ("selftaught.store.db", "selftaught.stop.loop", False),  # upwards
        ("selftaught.report.load", "selftaught.safety.audit", False),  # siblings
        ("selftaught.sandbox.pool", "selftaught.executors.ray_executor", False),
    ],
)
def test_the_rule_itself(importer: str, target: str, allowed: bool) -> None:
    (layer, owner), (target_layer, target_owner) = unit(importer), unit(target)
    assert (owner == target_owner or target_layer > layer) is allowed


def file_circles() -> list[list[str]]:
    """Every set of modules that import each other around a loop (lazy and TYPE_CHECKING imports count).

    A package `__init__` re-exporting its modules is not a circle of files a reader must hold at once,
    so imports of a package's own `__init__` are left out.
    """
    found = modules()
    graph = {
        name: {
            target
            for target in imports(path, name, set(found))
            if target in found and target != name and not name.startswith(target + ".")
        }
        for name, path in found.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return circles


def test_no_file_imports_another_that_imports_it_back() -> None:
    assert file_circles() == []


INSIDE = PACKAGE / "sandbox" / "inside"


def inside_classes() -> dict[str, list[ast.ClassDef]]:
    """The top-level classes of each module the zygote runs (sandbox/inside/*.py), by module name."""
    return {
        path.stem: [node for node in parsed(path).body if isinstance(node, ast.ClassDef)]
        for path in sorted(INSIDE.glob("*.py"))
    }


def test_the_zygote_is_composed_not_mixed_in() -> None:
    """`Zygote` has no base classes, and no class of sandbox/inside extends a class of another of its
    modules: each part of the zygote (brood, job flow, watchdog) is a collaborator it holds, readable
    alone, never a mixin that shares the others' attributes."""
    classes = inside_classes()
    [zygote] = [node for node in classes["zygote"] if node.name == "Zygote"]
    assert zygote.bases == [] and zygote.keywords == []
    defined = {node.name: module for module, nodes in classes.items() for node in nodes}
    mixed = [
        f"{module}.{node.name} extends {ast.unparse(base)}"
        for module, nodes in classes.items()
        for node in nodes
        for base in node.bases
        if defined.get(ast.unparse(base).rpartition(".")[2], module) != module
    ]
    assert mixed == []


def test_one_cpu_gate_for_every_evaluation() -> None:
    """Only sandbox/fairness.py gates CPU work: no other module builds a thread semaphore (a first-come
    gate beside FairGate lets one caller starve another; OpenEvolve evaluations hold a FairGate slot)."""
    gates = []
    for name, path in modules().items():
        if name == "selftaught.sandbox.fairness":
            continue
        tree = parsed(path)
        from_threading = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "threading"
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            if func in ("threading.Semaphore", "threading.BoundedSemaphore") or (
                func in from_threading and func.endswith("Semaphore")
            ):
                gates.append(f"{name}: {func}")
    assert gates == []


def test_the_task_protocol_and_results_import_no_kind_of_task() -> None:
    """`Task` (tasks/task.py) and `Evaluation` (tasks/result.py) are what every kind of task returns and
    fulfils: they depend on no kind (host-scored, interactive, paper, OpenEvolve), so adding a kind never
    reaches back into them."""
    found = modules()
    kinds = {
        "selftaught.tasks.host_scored",
        "selftaught.tasks.evaluation",
        "selftaught.tasks.interactive",
        "selftaught.tasks.paper",
        "selftaught.tasks.openevolve",
        "selftaught.tasks.openevolve_directory",
    }
    for name in ("selftaught.tasks.task", "selftaught.tasks.result"):
        assert imports(found[name], name, set(found)) & kinds == set(), name


def test_host_scored_tasks_import_none_of_their_evaluators() -> None:
    """The loader picks a task's evaluator; the task class itself imports none of them."""
    found = modules()
    name = "selftaught.tasks.host_scored"
    evaluators = {"selftaught.tasks.evaluation", "selftaught.tasks.interactive", "selftaught.tasks.paper"}
    assert imports(found[name], name, set(found)) & evaluators == set()


def test_a_circle_is_found_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The circle finder itself: evaluation imports host_scored; one import back makes a circle."""
    real = imports

    def with_loop(path: Path, name: str, known: set[str]) -> set[str]:
        found = real(path, name, known)
        if name == "selftaught.tasks.host_scored":
            found.add("selftaught.tasks.evaluation")
        return found

    monkeypatch.setattr(sys.modules[__name__], "imports", with_loop)
    assert ["selftaught.tasks.evaluation", "selftaught.tasks.host_scored"] in file_circles()
