"""Loading an OpenEvolve task directory (`--task openevolve:PATH`) into an `OpenEvolveTask`.

Everything the host reads from the user's directory is read here, once, and checked before any run
starts: the two required files (compiled, the evaluator's entry named), `requirements.txt` (installed?),
`config.yaml` (`openevolve_config`), and the other files copied into the sandbox beside the evaluator,
never a link out of the directory, a run store or a database. Every problem is a one-line `UsageError`.
"""

from __future__ import annotations

import re
from pathlib import Path

from selftaught.codetext import pysource
from selftaught.errors import UsageError
from selftaught.store.rundir import STORE_FILE
from selftaught.tasks.openevolve import OpenEvolveTask
from selftaught.tasks.openevolve_block import split_evolve_block
from selftaught.tasks.openevolve_config import EvaluatorConfig, check_evaluator_args, defines, read_config
from selftaught.userfiles import read_text

PREFIX = "openevolve:"
MAX_FILE_BYTES = 2_000_000
MAX_TOTAL_BYTES = 8_000_000
# Files copied into the sandbox next to the evaluator (data and helper modules it may read or import),
# except these directories, hidden files, run directories and stores (`_is_store`).
_SKIP_DIRS = {"__pycache__", ".git", "openevolve_output", ".venv", "node_modules", "runs"}
SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")


def load_openevolve_task(spec: str) -> OpenEvolveTask:
    """Load `openevolve:PATH` (or a bare PATH); every problem is a one-line `UsageError`."""
    raw = spec[len(PREFIX) :] if spec.startswith(PREFIX) else spec
    if not raw:
        raise UsageError("openevolve: needs a directory, e.g. --task openevolve:examples/openevolve_minimize")
    directory = Path(raw).expanduser()
    where = f"openevolve task {raw!r}"
    if not directory.exists():
        raise UsageError(f"{where}: directory does not exist")
    if not directory.is_dir():
        raise UsageError(f"{where}: not a directory")
    for required in ("initial_program.py", "evaluator.py"):
        if not (directory / required).is_file():
            raise UsageError(f"{where}: missing {required}")
    _refuse_links_outside(directory, where)
    program_text = _read_text(directory / "initial_program.py", where)
    evaluator_source = _read_text(directory / "evaluator.py", where)
    program = split_evolve_block(program_text, where=f"{where}: initial_program.py")
    if not program.block.strip():
        raise UsageError(f"{where}: initial_program.py has no code to evolve (empty EVOLVE-BLOCK or file)")
    for name, text in (("initial_program.py", program_text), ("evaluator.py", evaluator_source)):
        try:
            pysource.check_compiles(text, name)
        except pysource.SourceError as exc:
            raise UsageError(f"{where}: {name}: {pysource.describe(exc)}") from None
    if not (defines(evaluator_source, "evaluate") or defines(evaluator_source, "evaluate_stage1")):
        raise UsageError(f"{where}: evaluator.py defines neither evaluate(program_path) nor evaluate_stage1")
    _check_requirements(directory, where)
    config = _config(directory, where)
    check_evaluator_args(evaluator_source, config, where)
    return OpenEvolveTask(
        directory=directory.resolve(),
        program=program,
        evaluator_source=evaluator_source,
        files=_collect_files(directory, where),
        config=config,
    )


def _refuse_links_outside(directory: Path, where: str) -> None:
    """Refuse task files that are symlinks resolving outside the directory.

    Why: these files are read by the host and handed to the sandbox and the language model; a link to
    a host file (a key, the run store) would carry it there.
    """
    root = directory.resolve()
    for name in ("initial_program.py", "evaluator.py", "config.yaml", "requirements.txt"):
        path = directory / name
        if not path.is_symlink():
            continue
        target = path.resolve()
        if not target.is_relative_to(root):
            raise UsageError(
                f"{where}: {name} is a symlink to {target}, outside the task directory; copy the file in"
            )


def _read_text(path: Path, where: str) -> str:
    return read_text(path, f"{where}: {path.name}", limit=MAX_FILE_BYTES)


def _config(directory: Path, where: str) -> EvaluatorConfig:
    """The directory's `config.yaml` settings, or OpenEvolve's defaults without one."""
    path = directory / "config.yaml"
    if not path.is_file():
        return EvaluatorConfig()
    return read_config(path, _read_text(path, where), where)


def _collect_files(directory: Path, where: str) -> dict[str, bytes]:
    """The directory's regular files (helper modules, data), copied into the sandbox's scratch.

    Never copied: hidden files, caches and tool directories (`_SKIP_DIRS`, `runs/` included), any
    directory holding a selftaught run (its `run.sqlite`) and the runs directory holding that (whatever
    its name, with its group reports), and any
    SQLite database (by its header bytes, whatever its name) with its journal files. Why: selftaught is
    often run from the task's own directory, and an earlier run's store holds the secret test seed,
    every program and score, and its LM cache; a candidate must not read them.
    """
    files: dict[str, bytes] = {}
    total = 0
    # A run directory (it holds a run store) and the directory holding it (a runs directory of any name,
    # with its group reports beside the runs), unless that is the task directory itself.
    stores = {path.parent for path in directory.rglob(STORE_FILE)}
    run_dirs = (stores | {run.parent for run in stores}) - {directory}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part in _SKIP_DIRS or part.startswith(".") for part in relative.parts):
            continue
        if any(parent in run_dirs for parent in (path, *path.parents)):
            continue
        if path.is_symlink() or not path.is_file() or path.suffix == ".pyc" or _is_store(path):
            continue
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
            raise UsageError(
                f"{where}: files too large for the sandbox ({relative}: limits {MAX_FILE_BYTES} bytes per file, "
                f"{MAX_TOTAL_BYTES} in total)"
            )
        files[relative.as_posix()] = path.read_bytes()
    return files


def _is_store(path: Path) -> bool:
    """A SQLite database (by its first bytes) or one of its journals: a store, never task data."""
    if path.name.endswith(_SQLITE_SIDE_FILES):
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _check_requirements(directory: Path, where: str) -> None:
    """Refuse early, naming the package, when `requirements.txt` asks for something not installed.

    Nothing is installed on the user's behalf: the sandbox has no network, and installing is a decision
    for the user. `openevolve` itself is satisfied by selftaught's stand-in module.
    """
    path = directory / "requirements.txt"
    if not path.is_file():
        return
    from importlib.metadata import PackageNotFoundError, version

    for line in _read_text(path, where).splitlines():
        line = line.split("#", 1)[0].strip()
        match = _REQUIREMENT_NAME.match(line)
        if not line or line.startswith("-") or match is None:
            continue
        name = match.group(1)
        if name.lower().replace("_", "-") == "openevolve":
            continue
        try:
            version(name)
        except PackageNotFoundError:
            raise UsageError(
                f"{where}: requirements.txt needs {name!r}, which is not installed in selftaught's environment"
            ) from None
