"""`task.toml`: read a task directory's settings file, and its limits (stdlib only).

Apart from the rest of the directory loader so that listing tasks (`selftaught tasks`) reads the
built-ins' settings without importing their scorers (numpy), the sandbox or pydantic. The checks are
the pydantic model in `filemodels.py`, applied when a task is loaded.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from selftaught.errors import UsageError
from selftaught.userfiles import read_text

SPLITS = ("val", "test")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_INSTANCES = 100_000
MAX_TIMEOUT = 600.0
DEFAULT_CASCADE = 3
"""Strict protocol: a program whose first 3 instances all fail is not run on the rest (docs/tasks.md)."""


def read_toml(path: Path) -> dict[str, Any]:
    """`task.toml` parsed, not checked: `filemodels.load_task_file` checks it when a task is loaded."""
    try:
        return tomllib.loads(read_text(path, str(path)))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
