"""`improved` means changed, end to end: an iteration whose adopted improver is its parent, unchanged, is
not `improved` (the selection rules' unit tests are in test_selection_rules.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.config import Settings
from selftaught.stop import api

from .conftest import SMALL

pytestmark = pytest.mark.slow  # end to end: whole runs on the offline model in the real sandbox

IDENTITY_IMPROVER = '''
def improve_algorithm(initial_solution, utility, language_model):
    """Returns its input unchanged (so improving itself returns itself)."""
    return initial_solution
'''


def test_an_improver_that_returns_itself_is_kept_not_improved(tmp_path: Path) -> None:
    improver = tmp_path / "identity.py"
    improver.write_text(IDENTITY_IMPROVER, encoding="utf-8")
    settings = Settings(
        **{**SMALL, "tests": 1}, improver=str(improver), iterations=1, runs_dir=tmp_path / "runs"
    )
    [result] = api.self_improve(settings)
    assert [it.status for it in result.iterations] == ["seed", "kept"]
    assert result.iterations[1].improver_sha == result.iterations[0].improver_sha
    assert "unchanged" in (result.iterations[1].note or "")
