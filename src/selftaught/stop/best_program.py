"""`runs/<id>/best_program.py`: the best downstream program a run's final improver produced.

Why this one: the run's product for a user is a program for the task, not the improver. The final
improver's fresh re-estimate (context "iteration t=T") ran it `tests` times on the task's seed
algorithm; among the programs those runs returned, the best by *validation* utility is chosen (the
test split is never used to choose), and its test utility is written in a header comment so the file
says how good it is on unseen instances. A kept (failed) last step means the kept improver's own
re-estimate, from the iteration that produced it, is used.
"""

from __future__ import annotations

from pathlib import Path

from selftaught.store import Context, ImproverRunRecord, IterationRecord, RunDir, RunReader
from selftaught.store.rundir import BEST_PROGRAM_FILE

__all__ = ["BEST_PROGRAM_FILE", "best_final_program", "write_best_program"]


def best_final_program(
    reader: RunReader, iterations: list[IterationRecord]
) -> tuple[ImproverRunRecord, int] | None:
    """The chosen improver run and the iteration whose re-estimate it came from (None: nothing usable)."""
    if not iterations:
        return None
    final_sha = max(iterations, key=lambda it: it.t).improver_sha
    runs = reader.improver_runs()
    # The fresh estimate of the final improver: the latest iteration that produced that improver.
    for it in sorted(iterations, key=lambda item: item.t, reverse=True):
        if it.improver_sha != final_sha:
            continue
        context = Context.iteration(it.t)
        candidates = [
            run
            for run in runs
            if run.context == context
            and run.improver_sha == final_sha
            and run.output_sha is not None
            and run.error is None
        ]
        if candidates:
            best = max(candidates, key=lambda run: (run.utility_val, -run.test_index))
            return best, it.t
    return None


def write_best_program(reader: RunReader, run_dir: Path, iterations: list[IterationRecord]) -> Path | None:
    """Write `run_dir/best_program.py` (atomically); None when no improver run returned a program."""
    chosen = best_final_program(reader, iterations)
    if chosen is None:
        return None
    run, t = chosen
    assert run.output_sha is not None
    source = reader.get_program(run.output_sha)
    if source is None:
        return None
    header = (
        f"# Best program of run {run_dir.name} on task {run.task}.\n"
        f"# Chosen by validation utility among the programs the final improver ({run.improver_sha[:12]}, "
        f"iteration t={t}) returned in its re-estimate.\n"
        f"# test utility {run.utility_test:.6f} (validation {run.utility_val:.6f}; improver run {run.test_index})\n\n"
    )
    path = RunDir(run_dir).best_program_file
    tmp = path.with_suffix(".tmp")
    tmp.write_text(header + source, encoding="utf-8")
    tmp.replace(path)
    return path
