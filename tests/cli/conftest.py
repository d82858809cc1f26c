"""The CLI as users meet it: a real `python -m selftaught` subprocess, never an in-process runner.

`SELFTAUGHT_TEST_TYPER_PATH` (optional) is put first on the subprocess's path, so the same tests can
be run against another typer version installed into a target directory (the lowest the package
allows); `cli(..., hide=("click", "ray"))` makes those imports fail, as in an install without the ray
extra (which is what brings a separate click).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
HIDE_AND_RUN = (
    "import sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    if name: sys.modules[name] = None  # `import name` now raises ImportError\n"
    "sys.argv = ['selftaught', *sys.argv[2:]]\n"
    "from selftaught.cli import main\n"
    "main()\n"
)


def _typer_vendors_click() -> bool:
    """Does the typer under test carry its own click (0.26+)? Older ones need the click package."""
    import importlib.util

    other = os.environ.get("SELFTAUGHT_TEST_TYPER_PATH")
    if other:
        return (Path(other) / "typer" / "_click").is_dir()
    return importlib.util.find_spec("typer._click") is not None


VENDORED_CLICK = _typer_vendors_click()
HIDDEN_CASES = [(), ("click", "ray")] if VENDORED_CLICK else [()]
"""Import sets to hide: without the ray extra there is no separate click, which only a typer that
vendors click can live without (older typers depend on click, so it is always installed with them)."""


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    paths = [
        p for p in (os.environ.get("SELFTAUGHT_TEST_TYPER_PATH"), SRC, os.environ.get("PYTHONPATH")) if p
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "COLUMNS": "100"}
    env.pop("SELFTAUGHT_DEBUG", None)
    return {**env, **(extra or {})}


def cli(
    *args: str,
    cwd: Path,
    hide: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 600,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    command = (
        [sys.executable, "-c", HIDE_AND_RUN, ",".join(hide), *args]
        if hide
        else [sys.executable, "-m", "selftaught", *args]
    )
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=cli_env(env), input=stdin
    )
