"""What selftaught takes from an OpenEvolve task's `config.yaml`: the evaluator's limits and arguments.

The file is OpenEvolve's, so it is read the way OpenEvolve reads it (`filemodels.load_openevolve_config`,
its defaults without a file); this module keeps the few settings an evaluation needs (time limit,
cascade and its thresholds, `evaluator_args`, the MAP-Elites feature dimensions the fitness leaves out)
and refuses at load what OpenEvolve refuses at start-up.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selftaught.errors import UsageError
from selftaught.tasks.filemodels import (
    DEFAULT_EVALUATOR_TIMEOUT,
    DEFAULT_FEATURE_DIMENSIONS,
    DEFAULT_THRESHOLDS,
    load_openevolve_config,
)

log = logging.getLogger("selftaught.tasks.openevolve")


@dataclass(frozen=True)
class EvaluatorConfig:
    """What selftaught takes from an OpenEvolve `config.yaml` (OpenEvolve 0.4.1's defaults without one)."""

    timeout: float = DEFAULT_EVALUATOR_TIMEOUT
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    cascade: bool = True
    evaluator_args: dict[str, Any] = field(default_factory=dict)
    feature_dimensions: tuple[str, ...] = DEFAULT_FEATURE_DIMENSIONS

    def calls(self, evaluator_source: str) -> int:
        """How many limited calls one evaluation can make: 1, or the cascade's stages (at most 3)."""
        if not self.cascade or not defines(evaluator_source, "evaluate_stage1"):
            return 1
        if not defines(evaluator_source, "evaluate_stage2"):
            return 1
        return 3 if defines(evaluator_source, "evaluate_stage3") else 2


def defines(source: str, name: str) -> bool:
    """Whether `source` defines the top-level function `name` (read as text: the evaluator never runs
    in the host)."""
    return re.search(rf"^def {name}\s*\(", source, re.MULTILINE) is not None


_warned: set[tuple[str, tuple[str, ...]]] = set()


def read_config(path: Path, text: str, where: str) -> EvaluatorConfig:
    """The evaluator settings of an OpenEvolve `config.yaml` (`text`, read from `path`); the keys
    selftaught does not read are named in one warning line (once per file and process: a run loads its
    task more than once)."""
    config, ignored = load_openevolve_config(path, text)
    key = (str(path.resolve()), tuple(ignored))
    if ignored and key not in _warned:
        _warned.add(key)
        log.warning("%s: config.yaml: ignored (not used by selftaught): %s", where, ", ".join(ignored))
    section = config.evaluator
    return EvaluatorConfig(
        timeout=section.timeout,
        thresholds=section.cascade_thresholds,
        cascade=section.cascade_evaluation,
        evaluator_args=dict(section.evaluator_args or {}),
        feature_dimensions=config.database.feature_dimensions,
    )


def check_evaluator_args(source: str, config: EvaluatorConfig, where: str) -> None:
    """Refuse at load, as OpenEvolve does at start-up, `evaluator_args` that `evaluate` cannot take.

    Read from the source (the evaluator never runs in the host): a plain top-level `def evaluate`
    without `**kwargs` must name every key; any other form is left to the runner's own check.
    """
    if not config.evaluator_args:  # checked even when the cascade runs instead, as OpenEvolve does
        return
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "evaluate" and not node.decorator_list:
            if node.args.kwarg is not None:
                return
            named = [a.arg for a in node.args.posonlyargs[:0] + node.args.args + node.args.kwonlyargs]
            unknown = sorted(set(config.evaluator_args) - set(named))
            first = (node.args.posonlyargs + node.args.args)[:1]
            clash = sorted(set(config.evaluator_args) & {a.arg for a in first})
            if unknown or clash:
                raise UsageError(
                    f"{where}: config.yaml: evaluator.evaluator_args {unknown or clash} cannot be passed to "
                    f"evaluate() in evaluator.py (add the parameters or **kwargs, or remove the keys)"
                )
            return
