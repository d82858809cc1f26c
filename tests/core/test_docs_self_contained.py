"""The project's documents stand alone: no pointer to files outside the repository or to tracker issues."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(
    r"DESIGN\.md|PAPER\.md|SANDBOX_FACTS\.md|/work/(?:shared|coord|notes)|\bissues? \d+|issue-\d+"
)


def _documents() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").rglob("*.md"))]
    files += sorted((ROOT / "src").rglob("*.py"))
    files += [path for path in sorted((ROOT / "tests").rglob("*.py")) if path.name != Path(__file__).name]
    return [path for path in files if path.is_file()]


def test_no_document_points_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path in _documents()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line) and "cpython issue" not in line
    ]
    assert not found, "\n".join(found)
