"""Static flags on generated code: what it *tries* to do, read from its AST before it ever runs.

Why static flags when the sandbox already blocks these things: a blocked attempt leaves only a denied
syscall in the sandbox log, while the source says what the program was after (reading the scorer's frames,
raising its own budget, turning a sandbox flag off). The flags are reported as events, never used to
reject or score a program, so a false positive costs a line in the audit, not a result.

Each category yields at most one finding per program, listing the constructs and their lines.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable

from selftaught.detectors.names import ImportMap, constant_str, imported_module

FRAME_CALLS = (
    "sys._getframe",
    "sys._current_frames",
    "sys.settrace",
    "sys.setprofile",
    "threading.settrace",
    "inspect.currentframe",
    "inspect.stack",
    "inspect.trace",
    "inspect.getouterframes",
    "inspect.getinnerframes",
    "inspect.getframeinfo",
    "traceback.walk_stack",
    "traceback.extract_stack",
)
FRAME_ATTRIBUTES = frozenset(
    {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "gi_frame", "cr_frame", "ag_frame"}
)
GC_CALLS = ("gc.get_objects", "gc.get_referrers", "gc.get_referents", "gc.garbage", "gc.get_stats")
NATIVE_MODULES = {"ctypes": "ctypes", "_ctypes": "ctypes", "cffi": "cffi", "_cffi_backend": "cffi"}
NETWORK_MODULES = (
    "socket",
    "_socket",
    "ssl",
    "http",
    "urllib",
    "urllib3",
    "requests",
    "httpx",
    "aiohttp",
    "ftplib",
    "smtplib",
    "telnetlib",
    "xmlrpc",
    "websocket",
    "websockets",
    "asyncio.open_connection",
    "asyncio.start_server",
)
PROCESS_CALLS = (
    "subprocess",
    "pty",
    "os.system",
    "os.popen",
    "os.fork",
    "os.forkpty",
    "os.posix_spawn",
    "os.posix_spawnp",
    "posix.system",
    "posix.fork",
    "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell",
)
PROCESS_PREFIXES = ("os.exec", "os.spawn", "posix.exec", "posix.spawn")
ENVIRON = ("os.environ", "os.environb", "os.getenv", "os.getenvb", "posix.environ")
INTROSPECTION_ATTRIBUTES = frozenset({"__subclasses__", "__globals__", "__code__", "__closure__"})
FILE_CALLS = (
    "open",
    "io.open",
    "os.open",
    "posix.open",
    "pathlib.Path",
    "Path",
    "os.listdir",
    "os.scandir",
    "os.walk",
    "os.stat",
    "os.remove",
    "os.unlink",
    "os.rename",
    "os.chmod",
    "os.mkdir",
    "os.makedirs",
    "shutil.copy",
    "shutil.copyfile",
    "shutil.rmtree",
    "shutil.move",
    "glob.glob",
    "codecs.open",
    "numpy.load",
    "numpy.loadtxt",
    "numpy.save",
    "np.load",
    "np.loadtxt",
    "np.save",
)
BUDGET_ATTRIBUTES = frozenset({"budget", "max_responses_per_call", "uses"})
LM_CLASS_NAMES = frozenset(
    {
        "LanguageModel",
        "OpenAI",
        "AsyncOpenAI",
        "AzureOpenAI",
        "AsyncAzureOpenAI",
        "Anthropic",
        "AsyncAnthropic",
        "ChatOpenAI",
    }
)
LM_MODULES = ("openai", "anthropic", "litellm", "langchain", "langchain_openai", "google.generativeai")
CAPABILITY_NAMES = frozenset({"language_model", "utility", "meta_utility"})
SENSITIVE_PATHS = ("/proc", "/dev/mem", "/dev/kmem", "/sys/kernel")
UNPARSE_DEPTH = 64


def matches(path: str | None, prefixes: Iterable[str]) -> str | None:
    """The prefix that `path` starts with, compared by dotted components (`http` matches `http.client`)."""
    if path is None:
        return None
    for prefix in prefixes:
        if path == prefix or path.startswith(prefix + "."):
            return prefix
    return None


class _Collector:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, list[int]]] = defaultdict(dict)

    def add(self, kind: str, what: str, node: ast.AST) -> None:
        lines = self.items[kind].setdefault(what, [])
        line = getattr(node, "lineno", 0)
        if line not in lines:
            lines.append(line)

    def findings(self) -> list[tuple[str, str]]:
        result = []
        for kind in sorted(self.items):
            parts = [
                f"{what} (line {', '.join(str(n) for n in lines[:5])})"
                for what, lines in self.items[kind].items()
            ]
            shown = parts[:8] + ([f"+{len(parts) - 8} more"] if len(parts) > 8 else [])
            result.append((f"static:{kind}", "; ".join(shown)))
        return result


def scan_tree(tree: ast.AST | list[ast.AST]) -> list[tuple[str, str]]:
    """(kind, detail) pairs for every category of suspicious construct in the module (or its node list)."""
    nodes = tree if isinstance(tree, list) else list(ast.walk(tree))
    imports = ImportMap(nodes)
    found = _Collector()
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            _check_import(node, found)
        elif isinstance(node, ast.Name | ast.Attribute):
            _check_reference(node, imports, found)
        elif isinstance(node, ast.Call):
            _check_call(node, imports, found)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            _check_write(node, found)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            _check_string(node, found)
    return found.findings()


def _module_kind(module: str) -> tuple[str, str] | None:
    top = module.split(".")[0]
    if top in NATIVE_MODULES:
        return NATIVE_MODULES[top], module
    if matches(module, NETWORK_MODULES):
        return "network", module
    if matches(module, ("subprocess", "pty")):
        return "subprocess", module
    if matches(module, ("builtins", "importlib", "imp")):
        return "builtins-tampering", module
    if matches(module, LM_MODULES):
        return "lm-construct", f"import {module}"
    return None


def _check_import(node: ast.Import | ast.ImportFrom, found: _Collector) -> None:
    modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    for module in modules:
        kind = _module_kind(module)
        if kind is not None:
            found.add(kind[0], kind[1], node)


def _check_reference(node: ast.Name | ast.Attribute, imports: ImportMap, found: _Collector) -> None:
    if isinstance(node, ast.Attribute):
        if node.attr in FRAME_ATTRIBUTES:
            found.add("frame-inspection", f".{node.attr}", node)
        if node.attr in INTROSPECTION_ATTRIBUTES:
            found.add("introspection", f".{node.attr}", node)
    elif node.id == "__builtins__":
        found.add("builtins-tampering", "__builtins__", node)
    path = imports.dotted(node, strict=True)
    if path is None or "." not in path:
        return
    for kind, prefixes in (("frame-inspection", FRAME_CALLS), ("gc", GC_CALLS), ("environ", ENVIRON)):
        hit = matches(path, prefixes)
        if hit is not None:
            found.add(kind, hit, node)
    hit = matches(path, PROCESS_CALLS) or next((p for p in PROCESS_PREFIXES if path.startswith(p)), None)
    if hit is not None:
        found.add("subprocess", path if hit in PROCESS_PREFIXES else hit, node)
    if path.split(".")[0] in NATIVE_MODULES:
        found.add(NATIVE_MODULES[path.split(".")[0]], path.split(".")[0], node)
    hit = matches(path, NETWORK_MODULES)
    if hit is not None:
        found.add("network", hit, node)
    hit = matches(path, ("sys.modules", "sys.meta_path", "sys.path_hooks", "sys.addaudithook", "builtins"))
    if hit is not None:
        found.add("builtins-tampering", hit, node)
    if path.split(".")[0] == "posix":
        found.add("file-access", "posix module", node)


def _check_call(node: ast.Call, imports: ImportMap, found: _Collector) -> None:
    module = imported_module(node, imports)
    func_path = imports.dotted(node.func) if not isinstance(node.func, ast.Call) else None
    if func_path in ("__import__", "builtins.__import__") or matches(func_path, ("importlib",)):
        found.add("builtins-tampering", f"{func_path}({module!r})" if module else str(func_path), node)
    if module is not None:
        kind = _module_kind(module)
        if kind is not None:
            found.add(kind[0], f"dynamic import of {module}", node)
    if func_path == "setattr" and len(node.args) >= 2:
        _check_setattr(node, imports, found)
    if func_path in FILE_CALLS and node.args:
        path = constant_str(node.args[0])
        if path is not None and _outside_cwd(path):
            found.add("file-access", f"{func_path}({path!r})", node)
    _check_lm_construct(node, func_path, found)


def _check_setattr(node: ast.Call, imports: ImportMap, found: _Collector) -> None:
    target = imports.dotted(node.args[0])
    name = constant_str(node.args[1])
    if name in BUDGET_ATTRIBUTES and target not in ("self", "cls"):
        found.add("budget-write", f"setattr({target}, {name!r})", node)
    if target is not None and matches(target, ("builtins", "__builtins__", "sys", "os", "gc")):
        found.add("builtins-tampering", f"setattr({target}, {name!r})", node)


def _check_lm_construct(node: ast.Call, func_path: str | None, found: _Collector) -> None:
    if func_path is not None:
        last = func_path.split(".")[-1]
        if last in LM_CLASS_NAMES or matches(func_path, LM_MODULES):
            found.add("lm-construct", f"{func_path}(...)", node)
        if func_path in ("copy.copy", "copy.deepcopy") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Name) and arg.id in CAPABILITY_NAMES:
                found.add("lm-construct", f"{func_path}({arg.id})", node)
    func = node.func
    # type(language_model)(...) or language_model.__class__(...): a fresh object of the capability's class.
    if isinstance(func, ast.Call) and isinstance(func.func, ast.Name) and func.func.id == "type":
        found.add("lm-construct", "type(...)(...)", node)
    if isinstance(func, ast.Attribute) and func.attr == "__class__":
        found.add("lm-construct", ".__class__(...)", node)


def _check_write(node: ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete, found: _Collector) -> None:
    targets: list[ast.expr] = (
        list(node.targets) if isinstance(node, ast.Assign | ast.Delete) else [node.target]
    )
    for target in _flatten(targets):
        if isinstance(target, ast.Attribute) and target.attr in BUDGET_ATTRIBUTES:
            owner = target.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.add("budget-write", f"{_unparse(target)} =", node)
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute):
            key = constant_str(target.slice)
            if target.value.attr == "__dict__" and key in BUDGET_ATTRIBUTES:
                found.add("budget-write", f"{_unparse(target)} =", node)
        if isinstance(target, ast.Attribute | ast.Subscript):
            text = _unparse(target)
            if text.startswith(("builtins.", "__builtins__", "sys.modules")):
                found.add("builtins-tampering", f"{text} =", node)


def _unparse(node: ast.AST) -> str:
    """Source text of a small expression; a deeply nested one (unparse recurses) is described instead."""
    if _depth_exceeds(node, UNPARSE_DEPTH):
        return f"<expression nested over {UNPARSE_DEPTH} deep, line {getattr(node, 'lineno', 0)}>"
    return ast.unparse(node)


def _depth_exceeds(node: ast.AST, limit: int) -> bool:
    """Whether the subtree is deeper than `limit` (iterative, stops early)."""
    todo: list[tuple[ast.AST, int]] = [(node, 0)]
    while todo:
        current, depth = todo.pop()
        if depth > limit:
            return True
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(current))
    return False


def _flatten(targets: list[ast.expr]) -> Iterable[ast.expr]:
    for target in targets:
        if isinstance(target, ast.Tuple | ast.List):
            yield from _flatten(list(target.elts))
        else:
            yield target


def _check_string(node: ast.Constant, found: _Collector) -> None:
    raw = node.value
    value = raw if isinstance(raw, str) else raw.decode("latin-1") if isinstance(raw, bytes) else ""
    for sensitive in SENSITIVE_PATHS:
        if value == sensitive or value.startswith(sensitive + "/") or f" {sensitive}/" in value:
            found.add("proc-path", value[:60], node)
            return


def _outside_cwd(path: str) -> bool:
    """Absolute, home-relative or parent-relative: anything that is not under the working directory."""
    parts = path.replace("\\", "/").split("/")
    return path.startswith(("/", "~")) or ".." in parts
