"""Fixtures for report tests (the store builder lives in report_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import make_run


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "runs"
    path.mkdir()
    return path


@pytest.fixture
def run_dir(runs_dir: Path) -> Path:
    return make_run(runs_dir, "20261126-000000-str_grid_dist-s0-abcd")
