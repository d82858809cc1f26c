"""OpenEvolve-style tasks (`--task openevolve:PATH`): a directory with `initial_program.py` and `evaluator.py`.

Why a separate adapter: in an OpenEvolve directory the scorer is user code (`evaluate(program_path)`)
that *executes* the candidate, so unlike a selftaught task directory nothing can be scored in the host.
The evaluator runs in one sandbox job (source: `sandbox/inside/openevolve/_selftaught_runner.py`) that
gets a copy of the directory's files and the candidate's text; the candidate itself never runs there:
every import of it, call of its functions or `python script.py` the evaluator starts is a separate
sandbox job brokered by the host (`openevolve_broker.py`), values passed as data. The host turns the
metrics the evaluator returns into a utility. See docs/openevolve.md for what differs from OpenEvolve.

EVOLVE-BLOCK: if `initial_program.py` has one `# EVOLVE-BLOCK-START` ... `# EVOLVE-BLOCK-END` region,
the program the language model sees and returns is the code *inside* it; the code outside stays fixed and
is spliced back around every candidate before it is evaluated (a candidate that repeats the markers has
its block taken out first, so edits outside the block never reach the evaluator).

Utility = OpenEvolve 0.4.1's fitness (`utils/metrics_utils.get_fitness_score`): `combined_score` if
present, else the mean of the numeric metrics other than the MAP-Elites feature dimensions (flags never
count), **not clipped**: an OpenEvolve task's scale is its evaluator's, and improvers rank by it as
OpenEvolve does. A failed evaluation scores 0, which is OpenEvolve's own failure score (`{"error": 0}`).
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from selftaught.codetext import pysource
from selftaught.errors import UsageError
from selftaught.failure import Failure, failure_of
from selftaught.sandbox.executor import Executor
from selftaught.sandbox.fairness import current_owner
from selftaught.sandbox.job import ORDINARY_THREADS, Job
from selftaught.store.rundir import STORE_FILE
from selftaught.tasks.evaluation import resolve_seed
from selftaught.tasks.filemodels import (
    DEFAULT_EVALUATOR_TIMEOUT,
    DEFAULT_FEATURE_DIMENSIONS,
    DEFAULT_THRESHOLDS,
)
from selftaught.tasks.openevolve_broker import CandidateBroker
from selftaught.tasks.result import Evaluation, InstanceScore
from selftaught.userfiles import read_text

log = logging.getLogger(__name__)

PREFIX = "openevolve:"
START_MARKER = "# EVOLVE-BLOCK-START"
END_MARKER = "# EVOLVE-BLOCK-END"
MAX_FILE_BYTES = 2_000_000
MAX_TOTAL_BYTES = 8_000_000
MAX_EVALUATOR_CHARS_SHOWN = 6000
HOST_GRACE_SECONDS = 5.0
# Files copied into the sandbox next to the evaluator (data and helper modules it may read or import),
# except these directories, hidden files, run directories and stores (`_is_store`).
_SKIP_DIRS = {"__pycache__", ".git", "openevolve_output", ".venv", "node_modules", "runs"}
SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_SIDE_FILES = ("-journal", "-wal", "-shm")
_MARKER_LINE = re.compile(r"^[ \t]*# EVOLVE-BLOCK-(START|END)[^\n]*$", re.MULTILINE)


@dataclass(frozen=True)
class EvolveBlock:
    """`initial_program.py` cut at its EVOLVE-BLOCK markers (prefix and suffix include the markers)."""

    prefix: str
    block: str
    suffix: str

    @property
    def has_markers(self) -> bool:
        return bool(self.prefix or self.suffix)

    def splice(self, candidate: str) -> str:
        """The full program for a candidate block (a candidate holding the markers gives up its block)."""
        if not self.has_markers:
            return candidate
        inner = split_evolve_block(candidate, where="candidate", strict=False)
        block = inner.block if inner.has_markers else candidate
        return self.prefix + _framed_like(block, self.block) + self.suffix


def _framed_like(block: str, original: str) -> str:
    """`block` with the blank lines that framed `original` (before its first line and before the END
    marker): replies lose them, and the file must not change outside the code that did."""
    lead = original[: len(original) - len(original.lstrip("\n"))]
    trail = original[len(original.rstrip()) :] or "\n"
    core = block.rstrip().lstrip("\n")
    if not core:
        return block if block.endswith("\n") or not block else block + "\n"
    return lead + core + (trail if trail.startswith("\n") else "\n")


def split_evolve_block(text: str, *, where: str, strict: bool = True) -> EvolveBlock:
    """Cut `text` at its one EVOLVE-BLOCK; no markers means the whole text evolves.

    Strict (for the task's own file): unpaired, reversed or repeated markers are a `UsageError`.
    Not strict (for LM answers): anything but one clean block counts as "no markers".
    """
    markers = list(_MARKER_LINE.finditer(text))
    kinds = [m.group(1) for m in markers]
    if not markers:
        return EvolveBlock("", text, "")
    if kinds != ["START", "END"]:
        if not strict:
            return EvolveBlock("", text, "")
        if kinds.count("START") > 1 or kinds.count("END") > 1:
            raise UsageError(f"{where}: more than one EVOLVE-BLOCK; selftaught supports exactly one")
        missing = "END" if kinds == ["START"] else "START" if kinds == ["END"] else "START before END"
        raise UsageError(f"{where}: EVOLVE-BLOCK markers are not paired (need # EVOLVE-BLOCK-{missing})")
    start, end = markers
    prefix_end = text.find("\n", start.end())
    prefix_end = len(text) if prefix_end == -1 else prefix_end + 1
    block = text[prefix_end : end.start()]
    line_start = text.rfind("\n", 0, end.start()) + 1
    return EvolveBlock(text[:prefix_end], block, text[line_start:])


@dataclass
class OpenEvolveEvaluation(Evaluation):
    """An `Evaluation` plus what the evaluator said: artifacts, flags (boolean metrics such as
    `timeout`) and how many cascade stages ran. `utility` is OpenEvolve's fitness, unclipped;
    `raw_utility` is the same number (kept for readers of older output).

    The evaluator's numeric metrics are the one instance's `metrics` (so `Evaluation.metrics` shows them).
    """

    raw_utility: float = 0.0
    artifacts: dict[str, str] = field(default_factory=dict)
    stages: int = 0
    flags: dict[str, bool] = field(default_factory=dict)

    def to_dict(self, *, verbose: bool = False, include_seed: bool = True) -> dict[str, Any]:
        data = super().to_dict(verbose=verbose, include_seed=include_seed)
        data.update(
            raw_utility=self.raw_utility,
            metrics=dict(self.metrics),
            flags=dict(self.flags),
            stages=self.stages,
        )
        if verbose:
            data["artifacts"] = dict(self.artifacts)
        return data


def _mean(values: list[float]) -> float:
    # Each term divided first: the mean of finite floats stays finite (1e308 and 1e308 average to 1e308,
    # where summing first gives inf, which no JSON consumer of the utility could read).
    return sum(value / len(values) for value in values) if values else 0.0


def utility_from_metrics(
    metrics: dict[str, float], feature_dimensions: tuple[str, ...] | list[str] = ()
) -> float:
    """OpenEvolve 0.4.1's fitness of one evaluation (`get_fitness_score`), unclipped.

    `combined_score` if present; else the mean of the metrics that are not MAP-Elites feature
    dimensions (`error` included: OpenEvolve leaves it out of its cascade thresholds, not out of the
    fitness); with only feature dimensions, the mean of them all. `metrics` holds numbers only: the
    flags (booleans) were set apart by the runner, as OpenEvolve keeps them out of every average.
    """
    if "combined_score" in metrics:
        return float(metrics["combined_score"])
    fitness = [value for key, value in metrics.items() if key not in feature_dimensions]
    return _mean(fitness or list(metrics.values()))


class OpenEvolveTask:
    """A `Task` (tasks/task.py) whose whole evaluation is one sandbox job running the directory's
    `evaluator.py`: no host-side instances or judge, so it implements the protocol on its own rather
    than stubbing a host-scored task's scorer."""

    entry_point = "evaluate"
    signature = "evaluate(program_path) -> metrics"
    failure_value = 0.0  # OpenEvolve's own: a failed evaluation is `{"error": 0.0}`, fitness 0
    builtin = False
    protocol = "strict"
    bounded = False  # the evaluator's scale, as OpenEvolve ranks it

    def __init__(
        self,
        *,
        directory: Path,
        program: EvolveBlock,
        evaluator_source: str,
        files: dict[str, bytes],
        config: EvaluatorConfig,
    ) -> None:
        self.name = f"openevolve:{directory.name}"
        self.description = f"OpenEvolve-style task in {directory}"
        self.config = config
        # OpenEvolve limits each call (`evaluate`, or each cascade stage) to `timeout`, and so does the
        # runner; the trusted side's own limit is their sum plus a grace, so the runner's limit (which
        # keeps the earlier stages' metrics) is the one that fires.
        self.instance_timeout = config.timeout * config.calls(evaluator_source) + HOST_GRACE_SECONDS
        self.n_instances = {"val": 1, "test": 1}
        self.seed_algorithm = program.block
        self.utility_source = _utility_text(program, evaluator_source)
        self.directory: Path | None = directory
        self.program = program
        self.evaluator_source = evaluator_source
        self.files = files
        self.thresholds = config.thresholds

    def __repr__(self) -> str:
        return f"OpenEvolveTask({self.name!r})"

    def utility_text(self, budget: int | None = None) -> str:
        """The LM's view of the evaluator (with the utility's budget stated when one is given)."""
        text = self.utility_source.rstrip("\n") + "\n"
        if budget is None:
            return text
        return (
            f"# Budget: this utility may be called at most {budget} times; calls beyond that return 0.\n"
            + text
        )

    def check_program(self, source: str) -> str | None:
        """One line saying why `source` cannot be a candidate (after splicing), or None."""
        if not source.strip():
            return "the program is empty"
        try:
            pysource.check_compiles(self.program.splice(source), "candidate_program.py")
        except pysource.SourceError as exc:
            if exc.lineno:
                return f"syntax error at line {exc.lineno} of the spliced program: {exc.msg}"
            return f"the program cannot be parsed: {exc.msg}"
        return None

    def job(self, source: str) -> Job:
        """The sandbox job that runs the evaluator on one candidate (which it reaches only by proxy).

        Not `cpu_bound`: the evaluation already holds a CPU slot (`evaluate`), and this job and the
        candidate's jobs all run under it (asking for a second slot could deadlock a one-core pool).
        """
        runner = resources.files("selftaught.sandbox.inside") / "openevolve" / "_selftaught_runner.py"
        return Job(
            source=runner.read_text("utf-8"),
            entry="evaluate_candidate",
            instances=[
                [
                    self.program.splice(source),
                    dict(self.files),
                    list(self.thresholds),
                    CandidateBroker.proxy(),
                    {
                        "cascade": self.config.cascade,
                        "timeout": self.config.timeout,
                        "evaluator_args": dict(self.config.evaluator_args),
                    },
                ]
            ],
            instance_timeout=self.instance_timeout,
            job_timeout=self.instance_timeout + 15.0,
            cpu_bound=False,
            label=f"eval {self.name}",
            library_threads=ORDINARY_THREADS,  # BLAS threads as natively: OpenEvolve's timings count them
        )

    def evaluate(
        self, source: str, *, split: str = "val", seed: int | None = None, executor: Executor
    ) -> OpenEvolveEvaluation:
        """Run the evaluator on `source` in the sandbox; failures score 0 with the reason kept.

        Both splits run the same evaluator (OpenEvolve evaluators take no seed); `seed` is recorded only.
        """
        started = time.perf_counter()
        seed = resolve_seed(split, seed)
        problem = self.check_program(source)
        metrics: dict[str, float] = {}
        flags: dict[str, bool] = {}
        artifacts: dict[str, str] = {}
        stages, seconds, error = 0, 0.0, problem
        if problem is None:
            # One CPU slot of the executor's fair gate for the whole evaluation (owner: whoever asked, e.g.
            # the improver whose `utility` call this is), so a flood of evaluations from one improver
            # cannot starve another's; the time limit starts when the slot is held.
            with executor.cpu_slot(current_owner()):
                deadline = time.monotonic() + self.instance_timeout
                broker = CandidateBroker(
                    executor, self.program.splice(source), dict(self.files), deadline, self.name
                )
                try:
                    result = executor.run(self.job(source), rpc=broker)
                finally:
                    broker.close()
            error = result.setup_error
            if error is None and not result.instances:
                error = "no result (the sandbox stopped early)"
            if error is None:
                outcome = result.instances[0]
                seconds = outcome.seconds
                if outcome.error is not None:
                    error = outcome.error
                elif outcome.seconds > self.instance_timeout:
                    error = Failure.timeout()
                else:
                    metrics, flags, artifacts, stages, error = _read_output(outcome.output)
            if result.stderr and "stderr" not in artifacts:
                artifacts["sandbox_stderr"] = result.stderr[-4000:]
        if error is not None:
            artifacts.setdefault("error", error)
        utility = (
            utility_from_metrics(metrics, self.config.feature_dimensions)
            if error is None
            else self.failure_value
        )
        return OpenEvolveEvaluation(
            task=self.name,
            split=split,
            seed=seed,
            utility=utility,
            instances=1,
            failures=0 if error is None else 1,
            per_instance=[InstanceScore(0, utility, seconds, failure_of(error), metrics)],
            setup_error=_stored_reason(problem, error, utility, artifacts),
            wall_seconds=time.perf_counter() - started,
            raw_utility=utility,
            artifacts=artifacts,
            stages=stages,
            flags=flags,
        )


def _stored_reason(
    problem: str | None, error: str | None, raw: float, artifacts: dict[str, str]
) -> str | None:
    """The one line a stored evaluation keeps (its `setup_error`) so a report never shows a silent 0.

    A failure keeps its reason; a score of 0 or less keeps what the evaluator said last (OpenEvolve
    evaluators often catch their own errors, print them and return zeros).
    """
    if problem is not None:
        return problem
    if error is not None:
        return f"evaluator: {error}"
    if raw != 0:
        return None
    for name in ("error", "failure", "traceback", "stderr", "stdout", *artifacts):
        lines = [line.strip() for line in artifacts.get(name, "").splitlines() if line.strip()]
        if lines:
            return f"evaluator scored {raw:g}; {name}: {lines[-1][:300]}"
    return None


def _read_output(
    output: Any,
) -> tuple[dict[str, float], dict[str, bool], dict[str, str], int, str | None]:
    """Check the runner's answer strictly: it came out of the sandbox, so trust no part of its shape."""
    if not isinstance(output, dict):
        return {}, {}, {}, 0, "invalid evaluator output"
    metrics: dict[str, float] = {}
    raw_metrics = output.get("metrics")
    if isinstance(raw_metrics, dict):
        for key, value in raw_metrics.items():
            number = None if isinstance(value, bool) else _finite_number(value)
            if isinstance(key, str) and number is not None:
                metrics[key] = number
    raw_flags = output.get("flags")
    flags = (
        {
            key[:200]: value
            for key, value in list(raw_flags.items())[:50]
            if isinstance(key, str) and isinstance(value, bool)
        }
        if isinstance(raw_flags, dict)
        else {}
    )
    artifacts = {}
    raw_artifacts = output.get("artifacts")
    if isinstance(raw_artifacts, dict):
        artifacts = {str(k)[:200]: str(v)[:8000] for k, v in list(raw_artifacts.items())[:50]}
    stages = output.get("stages")
    stages = stages if isinstance(stages, int) and not isinstance(stages, bool) else 0
    error = output.get("error")
    error = None if error is None else str(error)[:500]
    if error is None and not metrics:
        error = "the evaluator returned no numeric metrics"
    return metrics, flags, artifacts, stages, error


def _finite_number(value: Any) -> float | None:
    """A metric as a finite float, or None: NaN, infinities and ints beyond float range (a 4000-digit
    int is valid JSON and `float()` of it raises) are not numbers a score can be made of."""
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _utility_text(program: EvolveBlock, evaluator_source: str) -> str:
    """`utility.str` for the LM: one `utility(solution)` function, as in the paper, whose comments show
    where the answer goes in the file and the evaluator that scores it.

    The file and the evaluator are quoted as `# | ` comment lines rather than as code, so the text stays
    one readable scorer function (and a program-mutation model does not take the evaluator for the
    program to improve).
    """
    shown = evaluator_source
    if len(shown) > MAX_EVALUATOR_CHARS_SHOWN:
        shown = shown[:MAX_EVALUATOR_CHARS_SHOWN] + "\n... (evaluator truncated)\n"
    lines = [
        "def utility(solution: str) -> float:",
        '    """Score of `solution` on an OpenEvolve-style task (higher is better; its scale is the evaluator\'s)."""',
    ]
    if program.has_markers:
        lines += [
            "    # `solution` is the code that goes between the EVOLVE-BLOCK markers of this file;",
            "    # the rest of the file is fixed:",
            *(f"    # | {line}".rstrip() for line in program.prefix.rstrip("\n").splitlines()),
            "    # |     <solution>",
            *(f"    # | {line}".rstrip() for line in program.suffix.rstrip("\n").splitlines()),
        ]
    else:
        lines.append("    # `solution` is the whole program file.")
    lines += [
        "    # The file is saved and scored by this evaluator (evaluator.py): evaluate(program_path), or",
        "    # evaluate_stage1(program_path), evaluate_stage2(...), ... as a cascade:",
        *(f"    # | {line}".rstrip() for line in shown.rstrip("\n").splitlines()),
        "    program_path = save(splice_into_file(solution))",
        "    metrics = run_evaluator(program_path)  # errors and timeouts score 0",
        "    if 'combined_score' in metrics:",
        "        return metrics['combined_score']",
        "    # booleans are flags, not scores; MAP-Elites feature dimensions are not fitness",
        "    return mean(value for name, value in numbers(metrics).items() if name not in FEATURE_DIMENSIONS)",
    ]
    return "\n".join(lines) + "\n"


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
    if not re.search(r"^def (evaluate|evaluate_stage1)\s*\(", evaluator_source, re.MULTILINE):
        raise UsageError(f"{where}: evaluator.py defines neither evaluate(program_path) nor evaluate_stage1")
    _check_requirements(directory, where)
    config = _read_config(directory, where)
    _check_evaluator_args(evaluator_source, config, where)
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
        if not self.cascade or not _defines(evaluator_source, "evaluate_stage1"):
            return 1
        if not _defines(evaluator_source, "evaluate_stage2"):
            return 1
        return 3 if _defines(evaluator_source, "evaluate_stage3") else 2


def _defines(source: str, name: str) -> bool:
    return re.search(rf"^def {name}\s*\(", source, re.MULTILINE) is not None


_warned: set[tuple[str, tuple[str, ...]]] = set()


def _read_config(directory: Path, where: str) -> EvaluatorConfig:
    """The evaluator settings of an OpenEvolve `config.yaml`, if any; the keys selftaught does not read
    are named in one warning line (once per file and process: a run loads its task more than once)."""
    from selftaught.tasks.filemodels import load_openevolve_config

    path = directory / "config.yaml"
    if not path.is_file():
        return EvaluatorConfig()
    config, ignored = load_openevolve_config(path, _read_text(path, where))
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


def _check_evaluator_args(source: str, config: EvaluatorConfig, where: str) -> None:
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
