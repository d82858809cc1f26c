"""Where a run is now, worked out from its stored rows (no message from the running process needed).

Why from the store: the process computing a run and the one watching it (`selftaught serve`, a report
taken mid-run) share nothing but the run's SQLite file. Every finished piece is committed as it ends (an
iteration, a candidate's meta-utility, each downstream test), so the iteration in progress is the first
one not stored, the step's scored candidates are its `candidates` estimates, and the tests of the
estimate being computed are the improver runs of a (context, improver) pair that has no estimate yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from selftaught.report.model import Progress
from selftaught.store import Context, ImproverRunRecord, IterationRecord, MetaUtilityRecord


def run_progress(
    status: str,
    config: dict[str, Any],
    iterations: Sequence[IterationRecord],
    estimates: Sequence[MetaUtilityRecord],
    runs: Sequence[ImproverRunRecord],
) -> Progress:
    """The run's position: iteration, phase, candidates scored, tests of the newest unfinished estimate."""
    planned = _int(config.get("iterations"))
    asked = None if planned is None else planned + 1
    done = len(iterations)
    computing = status == "running" and (asked is None or done < asked)
    current = done if computing else None
    candidates = Context.candidates(current) if current is not None else None
    scored = [row for row in estimates if candidates is not None and row.context == candidates]
    phase, candidate_sha, tests_done = status, None, 0
    if current is not None:
        finished = {(row.context, row.improver_sha) for row in estimates}
        mine = [row for row in runs if row.context in (candidates, Context.iteration(current))]
        open_runs = [row for row in mine if (row.context, row.improver_sha) not in finished]
        estimating = any(row.context == Context.iteration(current) for row in mine)
        phase = "seed estimate" if current == 0 else ("estimate" if estimating else "candidates")
        if open_runs:
            newest = open_runs[-1]
            candidate_sha = newest.improver_sha if newest.context == candidates else None
            tests_done = sum(
                1
                for row in open_runs
                if (row.context, row.improver_sha) == (newest.context, newest.improver_sha)
            )
    max_cost = config.get("max_cost")
    return Progress(
        iterations_done=done,
        iterations_asked=asked,
        current_t=current,
        phase=phase,
        candidates_scored=len(scored),
        candidate_budget=_int(config.get("utility_budget")),
        candidate_sha=candidate_sha,
        tests_done=tests_done,
        tests_asked=_int(config.get("tests")),
        test_runs=len(runs),
        lm_call_budget=_int(config.get("lm_calls")),
        max_cost=float(max_cost)
        if isinstance(max_cost, (int, float)) and not isinstance(max_cost, bool)
        else None,
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
