"""One OpenEvolve directory written from two strings and evaluated in the real sandbox: the shared step of
the tests that pair a hand-written evaluator with a hostile or honest candidate."""

from __future__ import annotations

import tempfile
from pathlib import Path

from selftaught.sandbox import SandboxPool
from selftaught.tasks import load_task
from selftaught.tasks.openevolve import OpenEvolveEvaluation


def run(program: str, evaluator: str, pool: SandboxPool) -> OpenEvolveEvaluation:
    """Evaluate `program` with `evaluator`, as `selftaught eval openevolve:DIR` would."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "initial_program.py").write_text(program)
        (directory / "evaluator.py").write_text(evaluator)
        evaluation = load_task(f"openevolve:{directory}").evaluate(program, executor=pool)
    assert isinstance(evaluation, OpenEvolveEvaluation)
    return evaluation


LOAD_PROGRAM = '''
import importlib.util


def load(program_path):
    """The candidate's module, imported the way OpenEvolve's own evaluators import it."""
    spec = importlib.util.spec_from_file_location("program", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
'''
"""The start of an evaluator's text: `load`, as every test evaluator here uses it."""
