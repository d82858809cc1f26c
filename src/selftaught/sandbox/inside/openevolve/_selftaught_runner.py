"""Runs an OpenEvolve-style evaluator on one candidate program, inside the sandbox (stdlib only).

This file is the *source* of the sandbox job for `--task openevolve:PATH` (the host sends its text; it
is not imported by selftaught). The evaluator is user code that executes generated code, so it never
runs in the host: here it gets a scratch directory holding a copy of the task directory's files and the
candidate program, and is called the way OpenEvolve calls it:

- `evaluator.cascade_evaluation` is true (OpenEvolve's default) and `evaluate_stage1(path)` exists: the
  cascade, stage for stage as OpenEvolve 0.4.1's `_cascade_evaluate` runs it (`cascade` below);
- otherwise `evaluate(path, **evaluator_args)`.

Each call is limited to `evaluator.timeout` seconds, as OpenEvolve limits each one.

The candidate never runs in this process: `candidate` is a proxy to the host, which runs each import of
the candidate, each call of its functions and each `python script.py` the evaluator starts in a separate
sandboxed child (see `_selftaught_imports` and `_selftaught_popen` next to this file).

The result is plain JSON for the host: numeric metrics as floats, boolean metrics as flags (OpenEvolve
never averages them into a score), everything else (non-numeric metric
values, artifacts, captured stdout/stderr, the traceback of a failure) as capped text in `artifacts`.
"""

import contextlib
import hashlib
import inspect
import io
import math
import os
import signal
import sys
import tempfile
import traceback
import types

from openevolve import _selftaught_imports, _selftaught_popen

MAX_ARTIFACT_CHARS = 4000
PROGRAM_NAME = "candidate_program.py"


def _cap(text):
    text = text if isinstance(text, str) else repr(text)
    if len(text) > MAX_ARTIFACT_CHARS:
        return text[:MAX_ARTIFACT_CHARS] + f"\n... [{len(text) - MAX_ARTIFACT_CHARS} more characters]"
    return text


def _split_value(key, value, metrics, flags, artifacts):
    """One metric value where the host can read it: booleans are flags (OpenEvolve 0.4.1 keeps them out
    of every average), finite real numbers are metrics, anything else is text in the artifacts."""
    if isinstance(value, bool):
        flags[key] = value
        return
    try:
        import numbers

        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number):
                metrics[key] = number
                return
    except Exception:
        pass
    artifacts[f"metric:{key}"] = _cap(value)


def _result_parts(result, stage_name):
    """(metrics, artifacts) of one call's result, as OpenEvolve's `_process_evaluation_result` takes
    it: a dict is the metrics, an EvaluationResult-like object has both, anything else is `{"error": 0}`."""
    if isinstance(result, dict):
        return dict(result), {}
    if hasattr(result, "metrics"):
        raw_metrics = getattr(result, "metrics", None)
        raw_artifacts = getattr(result, "artifacts", None)
        if isinstance(raw_metrics, dict):
            return dict(raw_metrics), dict(raw_artifacts) if isinstance(raw_artifacts, dict) else {}
    note = f"{stage_name} returned {type(result).__name__}, not a dict or EvaluationResult"
    return {"error": 0.0}, {"unexpected_result": note}


def passes_threshold(metrics, threshold):
    """OpenEvolve 0.4.1's `_passes_threshold`: `combined_score` if it is a number, else the mean of the
    numbers other than `error` (flags excluded); no metrics, or no number, never passes."""
    if not metrics:
        return False
    score = metrics.get("combined_score")
    if isinstance(score, (int, float)):
        return float(score) >= threshold
    values = [
        float(value)
        for name, value in metrics.items()
        if name != "error" and isinstance(value, (int, float)) and not isinstance(value, bool)
    ]
    return bool(values) and sum(values) / len(values) >= threshold


def _merged(metrics):
    """What OpenEvolve keeps of a stage's metrics when it merges stages: numbers and flags, not `error`."""
    return {
        name: value if isinstance(value, bool) else float(value)
        for name, value in metrics.items()
        if isinstance(value, (int, float)) and name != "error"
    }


class StageTimeout(BaseException):
    """A stage ran past `evaluator.timeout` (a BaseException: an evaluator's `except Exception` must
    not swallow the limit)."""


def _on_alarm(signum, frame):
    raise StageTimeout()


def _timed(function, timeout, *args, **kwargs):
    """`function(*args, **kwargs)` under OpenEvolve's per-call limit (`evaluator.timeout` seconds, wall
    clock); the host's own deadline for the whole evaluation stays the backstop."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return function(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _failure(stage, exc):
    """The artifacts OpenEvolve records for a stage that raised."""
    prefix = "" if stage == "stage1" else f"{stage}_"
    return {
        f"{prefix}stderr": str(exc),
        f"{prefix}traceback": traceback.format_exc(),
        "failure_stage": stage,
        "error_type": type(exc).__name__,
    }


def cascade(evaluator, program_path, thresholds, timeout):
    """OpenEvolve 0.4.1's `_cascade_evaluate`, stage for stage: (metrics, artifacts, stages run).

    Stage 1 failing (raising or timing out) gives `{"stage1_passed": 0, "error": 0}`; a later stage
    failing keeps the metrics of the stages before it and adds `stageN_passed: 0` (and `timeout: True`
    for a timeout); each stage after the first runs only if the score so far passes its threshold;
    merged stages keep numbers and flags, not `error`. At most three stages, as OpenEvolve runs.
    """
    try:
        metrics, artifacts = _result_parts(
            _timed(evaluator.evaluate_stage1, timeout, program_path), "evaluate_stage1"
        )
    except StageTimeout:
        return (
            {"stage1_passed": 0.0, "error": 0.0, "timeout": True},
            {"failure_stage": "stage1", "timeout": True},
            1,
        )
    except Exception as exc:
        return {"stage1_passed": 0.0, "error": 0.0}, _failure("stage1", exc), 1
    stages = 1
    if not thresholds:  # OpenEvolve indexes thresholds[0] here, and an empty list fails the cascade
        return {"stage1_passed": 0.0, "error": 0.0}, {"failure_stage": "cascade_setup"}, 1
    for stage in (2, 3):
        if len(thresholds) < stage - 1 or not passes_threshold(metrics, thresholds[stage - 2]):
            break
        function = getattr(evaluator, f"evaluate_stage{stage}", None)
        if function is None:
            break
        name = f"stage{stage}"
        try:
            later, later_artifacts = _result_parts(
                _timed(function, timeout, program_path), f"evaluate_{name}"
            )
        except StageTimeout:
            artifacts.update({f"{name}_timeout": True, "failure_stage": name})
            metrics.update({f"{name}_passed": 0.0, "timeout": True})
            return metrics, artifacts, stage
        except Exception as exc:
            artifacts.update(_failure(name, exc))
            metrics[f"{name}_passed"] = 0.0
            return metrics, artifacts, stage
        stages = stage
        metrics = {**_merged(metrics), **_merged(later)} if stage == 2 else {**metrics, **_merged(later)}
        artifacts.update(later_artifacts)
    return metrics, artifacts, stages


def direct(evaluator, program_path, timeout, evaluator_args):
    """OpenEvolve 0.4.1's direct evaluation: `evaluate(program_path, **evaluator_args)` under the limit;
    a timeout gives `{"error": 0, "timeout": True}`. An exception propagates (the evaluation failed)."""
    try:
        result = _timed(evaluator.evaluate, timeout, program_path, **(evaluator_args or {}))
    except StageTimeout:
        return {"error": 0.0, "timeout": True}, {"failure_stage": "evaluation", "error_type": "timeout"}, 1
    metrics, artifacts = _result_parts(result, "evaluate")
    return metrics, artifacts, 1


def check_arguments(function, evaluator_args):
    """None, or why `evaluator_args` cannot be passed to `evaluate` (OpenEvolve refuses at start-up)."""
    if not evaluator_args:
        return None
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(object(), **evaluator_args)
    except TypeError as exc:
        return f"evaluator.evaluator_args {sorted(evaluator_args)} cannot be passed to evaluate{signature}: {exc}"
    return None


def _load_evaluator(path):
    """Import `evaluator.py` as module `evaluator` (by hand: the sandbox may not offer importlib.util)."""
    module = types.ModuleType("evaluator")
    module.__file__ = path
    sys.modules["evaluator"] = module
    with open(path, "rb") as handle:
        source = handle.read().decode("utf-8").lstrip("\ufeff")
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def _scratch_directory():
    """A fresh directory inside the sandbox's writable scratch (where this job's `program.py` lives)."""
    here = globals().get("__file__")
    base = os.path.dirname(os.path.abspath(here)) if here else os.getcwd()
    for index in range(1000):
        path = os.path.join(base, f"openevolve-{os.getpid()}-{index}")
        try:
            os.makedirs(path)
        except FileExistsError:
            continue
        return path
    raise OSError(f"cannot create a scratch directory in {base}")


def _write_files(workdir, files):
    """Write the task's files; returns {relative path: sha256} (unchanged files are not sent on)."""
    written = {}
    for relative, data in files.items():
        parts = [part for part in relative.replace("\\", "/").split("/") if part not in ("", ".")]
        if not parts or ".." in parts:
            continue
        target = os.path.join(workdir, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            data = data if isinstance(data, bytes) else str(data).encode("utf-8")
            handle.write(data)
        written["/".join(parts)] = hashlib.sha256(data).hexdigest()
    return written


def evaluate_candidate(program, files, thresholds, candidate, options=None):
    """Evaluate `program` (full source text) with the task's `evaluator.py`; see the module docstring.

    `candidate` is the host's proxy that runs the candidate in its own sandboxed children; `options`
    holds `cascade` (OpenEvolve's `evaluator.cascade_evaluation`), `timeout` (its per-call limit) and
    `evaluator_args` (keyword arguments for `evaluate`).
    """
    options = options or {}
    use_cascade = options.get("cascade", True)
    timeout = float(options.get("timeout") or 300.0)
    evaluator_args = options.get("evaluator_args") or {}
    workdir = _scratch_directory()
    written = _write_files(workdir, dict(files, **{PROGRAM_NAME: program.encode("utf-8")}))
    program_path = os.path.join(workdir, PROGRAM_NAME)
    temporary = os.path.join(workdir, "tmp")
    os.makedirs(temporary, exist_ok=True)
    tempfile.tempdir = temporary  # inside the directory, so scripts and their outputs travel with it
    _selftaught_imports.install(candidate, program_path, program)
    _selftaught_popen.install(candidate, workdir, written)
    sys.path.insert(0, workdir)
    os.chdir(workdir)
    # The evaluator's home is its directory: what it looks for under `~` (algotune's evaluators try
    # `~/github/AlgoTune`) can travel with the task, as nothing outside the task directory does.
    os.environ["HOME"] = workdir
    raw_metrics, raw_artifacts = {}, {}
    stages_run = 0
    error = None
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            evaluator = _load_evaluator(os.path.join(workdir, "evaluator.py"))
            if use_cascade and callable(getattr(evaluator, "evaluate_stage1", None)):
                raw_metrics, raw_artifacts, stages_run = cascade(evaluator, program_path, thresholds, timeout)
            elif callable(getattr(evaluator, "evaluate", None)):
                error = check_arguments(evaluator.evaluate, evaluator_args)
                if error is None:
                    raw_metrics, raw_artifacts, stages_run = direct(
                        evaluator, program_path, timeout, evaluator_args
                    )
            else:
                error = "evaluator.py defines no evaluate(program_path)" + (
                    "" if use_cascade else " (evaluator.cascade_evaluation is false)"
                )
        except BaseException as exc:  # the evaluator is user code: report, never crash the job
            error = f"{type(exc).__name__}: {exc}"
            raw_artifacts["traceback"] = traceback.format_exc()
    metrics, flags, artifacts = {}, {}, {}
    for key, value in raw_metrics.items():
        _split_value(str(key), value, metrics, flags, artifacts)
    for key, value in raw_artifacts.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        artifacts[str(key)] = _cap(value)
    if out.getvalue():
        artifacts["stdout"] = _cap(out.getvalue())
    if err.getvalue():
        artifacts["stderr"] = _cap(err.getvalue())
    if error is not None:
        artifacts["error"] = _cap(error)
    return {"metrics": metrics, "flags": flags, "artifacts": artifacts, "stages": stages_run, "error": error}
