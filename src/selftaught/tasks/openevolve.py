"""OpenEvolve-style tasks (`--task openevolve:PATH`): a directory with `initial_program.py` and `evaluator.py`.

Why a separate adapter: in an OpenEvolve directory the scorer is user code (`evaluate(program_path)`)
that *executes* the candidate, so unlike a selftaught task directory nothing can be scored in the host.
The evaluator runs in one sandbox job (source: `sandbox/inside/openevolve/_selftaught_runner.py`) that
gets a copy of the directory's files and the candidate's text; the candidate itself never runs there:
every import of it, call of its functions or `python script.py` the evaluator starts is a separate
sandbox job brokered by the host (`openevolve_broker.py`), values passed as data. The host turns the
metrics the evaluator returns into a utility. See docs/openevolve.md for what differs from OpenEvolve.

The directory is read by `openevolve_directory.py`, its EVOLVE-BLOCK cut by `openevolve_block.py` and its
`config.yaml` by `openevolve_config.py`; this module is the task itself: the job, the reading of the
evaluator's answer, and the utility.

Utility = OpenEvolve 0.4.1's fitness (`utils/metrics_utils.get_fitness_score`): `combined_score` if
present, else the mean of the numeric metrics other than the MAP-Elites feature dimensions (flags never
count), **not clipped**: an OpenEvolve task's scale is its evaluator's, and improvers rank by it as
OpenEvolve does. A failed evaluation scores 0, which is OpenEvolve's own failure score (`{"error": 0}`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from selftaught.codetext import pysource
from selftaught.failure import Failure, failure_of
from selftaught.sandbox.executor import Executor
from selftaught.sandbox.fairness import current_owner
from selftaught.sandbox.job import ORDINARY_THREADS, Job
from selftaught.tasks.evaluation import resolve_seed
from selftaught.tasks.openevolve_block import EvolveBlock
from selftaught.tasks.openevolve_broker import CandidateBroker
from selftaught.tasks.openevolve_config import EvaluatorConfig
from selftaught.tasks.result import Evaluation, InstanceScore

MAX_EVALUATOR_CHARS_SHOWN = 6000
HOST_GRACE_SECONDS = 5.0


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
