"""Resolving what a name in generated code refers to, statically, so aliases do not hide intent.

Generated code rarely writes `sys._getframe` literally once it has learnt to be clever: `import sys as s`,
`from inspect import currentframe as cf`, `getattr(sys, "_getframe")` and `__import__("ctypes")` all
name the same thing. `ImportMap` collects the module's import bindings; `dotted` turns a Name /
Attribute / `getattr(obj, "const")` chain into the dotted path it most likely means. It is a best-effort
static view (no data flow beyond plain `x = y` aliases); the sandbox is what actually enforces.
"""

from __future__ import annotations

import ast

MAX_CHAIN = 64  # longer attribute / call chains are not resolved (no real module path is that long)


class ImportMap:
    """Local name -> fully qualified dotted name, from every import and plain alias in the module."""

    def __init__(self, nodes: list[ast.AST]) -> None:
        self.names: dict[str, str] = {}
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.names[local] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    if alias.name != "*":
                        self.names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        # Plain aliases of imported things (`gf = sys._getframe`, `a = b = sys._getframe`), one level
        # deep, in source order.
        for node in nodes:
            if isinstance(node, ast.Assign):
                value = self.dotted(node.value)
                if value is None or "." not in value:
                    continue
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id not in self.names:
                        self.names[target.id] = value

    def dotted(self, node: ast.AST, *, strict: bool = False, _depth: int = 0) -> str | None:
        """The dotted path an expression names (`s._getframe` -> `sys._getframe`), or None.

        With `strict`, a chain must start at an imported name (or a dynamic import), so a local variable
        that happens to be called `http` or `socket` is not mistaken for the module. Attribute chains are
        walked iteratively and calls nested more than MAX_CHAIN deep are not resolved: generated code may
        chain thousands of them, and a scanner that raises RecursionError would let it pass unscanned.
        """
        if _depth > MAX_CHAIN:
            return None
        attrs: list[str] = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if len(attrs) > MAX_CHAIN:
            return None
        base: str | None = None
        if isinstance(node, ast.Name):
            if strict and node.id not in self.names:
                return None
            base = self.names.get(node.id, node.id)
        elif isinstance(node, ast.Call):
            base = self._call_path(node, strict, _depth + 1)
        if base is None:
            return None
        return ".".join([base, *reversed(attrs)])

    def _call_path(self, node: ast.Call, strict: bool, depth: int) -> str | None:
        func = node.func
        # getattr(obj, "name") and __import__("mod") / importlib.import_module("mod")
        if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
            base = self.dotted(node.args[0], strict=strict, _depth=depth)
            name = constant_str(node.args[1])
            if base is not None and name is not None:
                return f"{base}.{name}"
        path = self.dotted(func, _depth=depth) if not isinstance(func, ast.Call) else None
        return _dynamic_import(node, path)


def constant_str(node: ast.AST) -> str | None:
    """The value of a string literal, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def imported_module(call: ast.Call, imports: ImportMap) -> str | None:
    """`__import__("x")`, `importlib.import_module("x")` -> "x" (the module a dynamic import names)."""
    func = imports.dotted(call.func) if not isinstance(call.func, ast.Call) else None
    return _dynamic_import(call, func)


def _dynamic_import(call: ast.Call, func: str | None) -> str | None:
    if (
        func in ("__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__")
        and call.args
    ):
        return constant_str(call.args[0])
    return None
