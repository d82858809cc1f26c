"""`task.toml`: read and check a task directory's settings file (stdlib only).

Apart from the rest of the directory loader so that listing tasks (`selftaught tasks`) reads the
built-ins' settings without importing their scorers (numpy) or the sandbox.
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

_REQUIRED_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "entry_point": str,
    "signature": str,
    "instance_timeout": (int, float),
    "failure_value": (int, float),
    "instances": dict,
}
_OPTIONAL_KEYS: dict[str, type] = {"protocol": str}
"""`protocol = "paper"` marks the original-code variants of the built-ins (their scorer.py also defines
`utility(instances, calls)`, the original whole-utility rule); everything else is `strict`."""


def read_task_file(path: Path) -> dict[str, Any]:
    """Parse and check task.toml: all keys present, right types, sane ranges, nothing unknown."""
    try:
        data = tomllib.loads(read_text(path, str(path)))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    for key, expected in _REQUIRED_KEYS.items():
        if key not in data:
            raise UsageError(f"{path}: missing key {key!r}")
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            wanted = "number" if expected == (int, float) else "table" if expected is dict else "string"
            raise UsageError(f"{path}: {key!r} must be a {wanted}, got {type(value).__name__}")
    protocol = data.get("protocol", "strict")
    if protocol not in ("strict", "paper"):
        raise UsageError(f"{path}: 'protocol' must be \"strict\" or \"paper\", got {protocol!r}")
    unknown = sorted(set(data) - set(_REQUIRED_KEYS) - set(_OPTIONAL_KEYS))
    if unknown:
        raise UsageError(f"{path}: unknown key {unknown[0]!r} (allowed: {', '.join(_REQUIRED_KEYS)})")
    if not NAME_PATTERN.match(data["name"]):
        raise UsageError(f"{path}: 'name' must match [a-z][a-z0-9_]* (up to 64 characters)")
    for key in ("description", "signature"):
        if not data[key].strip():
            raise UsageError(f"{path}: {key!r} must not be empty")
    if "\n" in data["description"].strip():
        raise UsageError(f"{path}: 'description' must be one line")
    if not data["entry_point"].isidentifier():
        raise UsageError(f"{path}: 'entry_point' must be a Python identifier, got {data['entry_point']!r}")
    if not 0 < data["instance_timeout"] <= MAX_TIMEOUT:
        raise UsageError(f"{path}: 'instance_timeout' must be in (0, {MAX_TIMEOUT:g}] seconds")
    if not 0 <= data["failure_value"] <= 1:
        raise UsageError(f"{path}: 'failure_value' must be in [0, 1]")
    data["description"] = data["description"].strip()
    data["instances"] = _check_counts(path, data["instances"])
    return data


def _check_counts(path: Path, table: dict[str, Any]) -> dict[str, int]:
    for split in SPLITS:
        if split not in table:
            raise UsageError(f"{path}: missing key 'instances.{split}'")
        count = table[split]
        if isinstance(count, bool) or not isinstance(count, int):
            raise UsageError(f"{path}: 'instances.{split}' must be an integer, got {type(count).__name__}")
        if not 1 <= count <= MAX_INSTANCES:
            raise UsageError(f"{path}: 'instances.{split}' must be in 1..{MAX_INSTANCES}")
    unknown = sorted(set(table) - set(SPLITS))
    if unknown:
        raise UsageError(f"{path}: unknown key 'instances.{unknown[0]}' (allowed: val, test)")
    return {split: table[split] for split in SPLITS}
