"""Wall time of one self-improvement iteration at the paper's budgets against its critical path.

    .venv/bin/python benchmarks/stop_critical_path.py --latency 2

The loopback OpenAI-compatible server answers every request after `--latency` seconds (the SDK path is
real). With the paper's seed improver and budgets (6 responses x 4 calls, utility budget 25, 5 tests),
the LM rounds that must happen one after another are:
  t=0 estimate: 1 round (the 5 tests run concurrently, each one batch call);
  t=1 step: 1 round for the improver's own batch call, then one round per candidate it scores, because
  the seed improver scores its 6 candidates one after another (`max(..., key=utility)`) and each
  meta-utility call runs 5 tests concurrently, each one batch call; then 1 round for the fresh estimate of
  the returned improver.
With the seed improver as the starting point that is latency x (1 + 6 + 1) for t=1 if every candidate
makes one LM call per test; candidates that make k calls one after another add k rounds, so the floor is
computed from what the run recorded: 1 + sum over candidates of (max LM calls of its tests) + max LM calls
of the estimate's tests. The goal is to stay within 1.3x of that floor, i.e. evaluations and independent
LM calls overlap instead of adding up.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import selftaught
from selftaught.config import Settings
from selftaught.stop.runs import read_run
from selftaught.store import Context
from selftaught.testing.openai_server import OpenAIServer


def sequential_rounds(run_dir: Path, run_id: str, context: Context) -> int:
    """Sum over the improvers evaluated in `context` of the most LM calls any one of their tests made."""
    with read_run(run_dir, run_id) as store:
        most: dict[str, int] = {}
        for run in store.improver_runs():
            if run.context == context:
                most[run.improver_sha] = max(most.get(run.improver_sha, 0), run.lm_calls)
        return sum(most.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--task", default="parity_noise")
    args = parser.parse_args()
    os.environ["SELFTAUGHT_BENCH_KEY"] = "sk-bench"
    with OpenAIServer(latency=args.latency) as server:
        settings = Settings(
            task=args.task,
            iterations=1,
            model=f"openai/bench@{server.base_url}",
            api_key_env="SELFTAUGHT_BENCH_KEY",
            test_seed=5678,
            runs_dir=Path(tempfile.mkdtemp(prefix="stop-cp-")),
        )
        started = time.monotonic()
        [run] = selftaught.self_improve(settings)
        total = time.monotonic() - started
        requests = len(server.chat_requests)
    t0, t1 = run.iterations
    runs_dir = settings.runs_dir
    floor0 = args.latency * sequential_rounds(runs_dir, run.run_id, Context.iteration(0))
    rounds1 = (
        1
        + sequential_rounds(runs_dir, run.run_id, Context.candidates(1))
        + sequential_rounds(runs_dir, run.run_id, Context.iteration(1))
    )
    floor1 = args.latency * rounds1
    print(f"latency {args.latency:.1f} s per request, {requests} chat requests, whole run {total:.1f} s")
    print("| iteration | wall s | critical path s | ratio |")
    print("|---|---|---|---|")
    print(
        f"| t=0 (estimate of the seed improver) | {t0.wall_seconds:.1f} | {floor0:.1f} | {t0.wall_seconds / floor0:.2f} |"
    )
    print(
        f"| t=1 (self-improvement step + estimate) | {t1.wall_seconds:.1f} | {floor1:.1f} | {t1.wall_seconds / floor1:.2f} |"
    )


if __name__ == "__main__":
    main()
