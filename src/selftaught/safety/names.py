"""Resolving what a name in generated code refers to, statically, so aliases do not hide intent.

Generated code rarely writes `sys._getframe` literally once it has learnt to be clever: `import sys as s`,
`from inspect import currentframe as cf`, `getattr(sys, "_getframe")` and `__import__("ctypes")` all
name the same thing. `ImportMap` collects the module's import bindings; `dotted` turns a Name /
Attribute / `getattr(obj, "const")` chain into the dotted path it most likely means. It is a best-effort
static view (no data flow beyond plain `x = y` aliases); the sandbox is what actually enforces.
"""

from __future__ import annotations

import ast


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
        # Plain aliases of imported things (`gf = sys._getframe`), one level deep, in source order.
        for node in nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target = node.targets[0].id
                value = self.dotted(node.value)
                if value is not None and "." in value and target not in self.names:
                    self.names[target] = value

    def dotted(self, node: ast.AST, *, strict: bool = False) -> str | None:
        """The dotted path an expression names (`s._getframe` -> `sys._getframe`), or None.

        With `strict`, a chain must start at an imported name (or a dynamic import), so a local variable
        that happens to be called `http` or `socket` is not mistaken for the module.
        """
        if isinstance(node, ast.Name):
            if strict and node.id not in self.names:
                return None
            return self.names.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value, strict=strict)
            return f"{base}.{node.attr}" if base is not None else None
        if isinstance(node, ast.Call):
            func = node.func
            # getattr(obj, "name") and __import__("mod") / importlib.import_module("mod")
            if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
                base = self.dotted(node.args[0], strict=strict)
                name = constant_str(node.args[1])
                if base is not None and name is not None:
                    return f"{base}.{name}"
            return imported_module(node, self)
        return None


def constant_str(node: ast.AST) -> str | None:
    """The value of a string literal, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def imported_module(call: ast.Call, imports: ImportMap) -> str | None:
    """`__import__("x")`, `importlib.import_module("x")` -> "x" (the module a dynamic import names)."""
    func = imports.dotted(call.func) if not isinstance(call.func, ast.Call) else None
    if func in ("__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__") and call.args:
        return constant_str(call.args[0])
    return None
