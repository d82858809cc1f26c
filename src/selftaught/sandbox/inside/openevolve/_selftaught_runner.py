"""Runs an OpenEvolve-style evaluator on one candidate program, inside the sandbox (stdlib only).

This file is the *source* of the sandbox job for `--task openevolve:PATH` (the host sends its text; it
is not imported by selftaught). The evaluator is user code that executes generated code, so it never
runs in the host: here it gets a scratch directory holding a copy of the task directory's files and the
candidate program, and is called the way OpenEvolve calls it:

- `evaluate_stage1(path)` exists: cascade. Stage k+1 runs only if stage k's score reaches
  `thresholds[k]` (score = `combined_score` if present, else the mean of the numeric metrics other than
  `error`); metrics and artifacts of the stages that ran are merged, later stages winning.
- otherwise `evaluate(path)`.

The candidate never runs in this process: `candidate` is a proxy to the host, which runs each import of
the candidate, each call of its functions and each `python script.py` the evaluator starts in a separate
sandboxed child (see `_selftaught_imports` and `_selftaught_popen` next to this file).

The result is plain JSON for the host: numeric metrics as floats, everything else (non-numeric metric
values, artifacts, captured stdout/stderr, the traceback of a failure) as capped text in `artifacts`.
"""

import contextlib
import hashlib
import io
import math
import os
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


def _number(value):
    """A finite float from a metric value, or None if it is not a number."""
    if isinstance(value, bool):
        return float(value)
    try:
        import numbers

        if isinstance(value, numbers.Real):
            value = float(value)
            return value if math.isfinite(value) else None
    except Exception:
        return None
    return None


def _normalise(result, metrics, artifacts, stage_name):
    """Merge one stage's result (a dict or an EvaluationResult-like object) into metrics/artifacts."""
    if hasattr(result, "metrics") and not isinstance(result, dict):
        raw_metrics = getattr(result, "metrics", None) or {}
        raw_artifacts = getattr(result, "artifacts", None) or {}
    elif isinstance(result, dict):
        raw_metrics, raw_artifacts = result, {}
    else:
        raise TypeError(f"{stage_name} returned {type(result).__name__}, not a dict or EvaluationResult")
    if not isinstance(raw_metrics, dict):
        raise TypeError(f"{stage_name}: metrics is {type(raw_metrics).__name__}, not a dict")
    for key, value in raw_metrics.items():
        number = _number(value)
        if number is None:
            artifacts[f"metric:{key}"] = _cap(value)
        else:
            metrics[str(key)] = number
    if isinstance(raw_artifacts, dict):
        for key, value in raw_artifacts.items():
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            artifacts[str(key)] = _cap(value)


def stage_score(metrics):
    """OpenEvolve's threshold rule: combined_score if present, else the mean of the other metrics."""
    if "combined_score" in metrics:
        return metrics["combined_score"]
    values = [value for key, value in metrics.items() if key != "error"]
    return sum(values) / len(values) if values else 0.0


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


def evaluate_candidate(program, files, thresholds, candidate):
    """Evaluate `program` (full source text) with the task's `evaluator.py`; see the module docstring.

    `candidate` is the host's proxy that runs the candidate in its own sandboxed children.
    """
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
    metrics, artifacts = {}, {}
    stages_run = 0
    error = None
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            evaluator = _load_evaluator(os.path.join(workdir, "evaluator.py"))
            if callable(getattr(evaluator, "evaluate_stage1", None)):
                stage = 1
                while True:
                    function = getattr(evaluator, f"evaluate_stage{stage}", None)
                    if not callable(function):
                        break
                    _normalise(function(program_path), metrics, artifacts, f"evaluate_stage{stage}")
                    stages_run = stage
                    if stage - 1 >= len(thresholds) or stage_score(metrics) < thresholds[stage - 1]:
                        break
                    stage += 1
            elif callable(getattr(evaluator, "evaluate", None)):
                _normalise(evaluator.evaluate(program_path), metrics, artifacts, "evaluate")
                stages_run = 1
            else:
                error = (
                    "evaluator.py defines neither evaluate(program_path) nor evaluate_stage1(program_path)"
                )
        except BaseException as exc:  # the evaluator is user code: report, never crash the job
            error = f"{type(exc).__name__}: {exc}"
            artifacts["traceback"] = _cap(traceback.format_exc())
    if out.getvalue():
        artifacts["stdout"] = _cap(out.getvalue())
    if err.getvalue():
        artifacts["stderr"] = _cap(err.getvalue())
    if error is not None:
        artifacts["error"] = _cap(error)
    return {"metrics": metrics, "artifacts": artifacts, "stages": stages_run, "error": error}
