"""Reading the text files users hand us (programs, improvers, task files) with one-line errors.

Every command that takes a file should fail the same way on the same problem — missing, a directory,
unreadable, too large, not UTF-8 — so they all read through `read_text`.
"""

from __future__ import annotations

from pathlib import Path

from selftaught.errors import UsageError


def read_text(path: Path, label: str, *, limit: int | None = None) -> str:
    """The UTF-8 text of `path` (a leading BOM dropped); `label` names the file in error messages."""
    if not path.exists():
        raise UsageError(f"{label} does not exist")
    if not path.is_file():
        raise UsageError(f"{label} is not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {label}: {exc.strerror or exc}") from None
    if limit is not None and len(data) > limit:
        raise UsageError(f"{label} is {len(data)} bytes; the limit is {limit}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{label} is not UTF-8 (byte {exc.start})") from None
