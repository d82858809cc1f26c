"""Meta-utility per iteration over independent seeds, and the transfer table, on the offline model.

    .venv/bin/python benchmarks/stop_offline.py --seeds 5 --iterations 3 --task parity_noise

Prints a markdown table of mean ± standard error per iteration (validation and test meta-utility) across
seeds, then the transfer table of seed 0's run (seed algorithm / seed improver / each iteration's
improver on the other tasks, test split, mean ± SE over --tests). Runs are kept under --runs-dir.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import selftaught
from selftaught.config import Settings
from selftaught.stop.meta_utility import standard_error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="parity_noise")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--tests", type=int, default=5)
    parser.add_argument("--transfer-tasks", nargs="*", default=None)
    parser.add_argument("--no-transfer", action="store_true")
    parser.add_argument("--runs-dir", type=Path, default=None)
    args = parser.parse_args()
    runs_dir = args.runs_dir or Path(tempfile.mkdtemp(prefix="stop-bench-"))
    settings = Settings(
        task=args.task,
        iterations=args.iterations,
        tests=args.tests,
        seeds=args.seeds,
        runs_dir=runs_dir,
        test_seed=5678,
    )
    started = time.monotonic()
    runs = selftaught.self_improve(settings)
    elapsed = time.monotonic() - started
    print(
        f"## {args.task}: {args.seeds} seeds x T={args.iterations}, tests={args.tests}, offline model "
        f"({elapsed:.0f} s, runs in {runs_dir})\n"
    )
    print(
        "| t | meta-utility val (mean ± SE) | meta-utility test (mean ± SE) | improved in runs | LM calls (mean) |"
    )
    print("|---|---|---|---|---|")
    for t in range(args.iterations + 1):
        rows = [run.iterations[t] for run in runs]
        vals = [row.meta_utility_val for row in rows]
        tests = [row.meta_utility_test for row in rows]
        improved = sum(row.status == "improved" for row in rows)
        print(
            f"| {t} | {statistics.fmean(vals):.4f} ± {standard_error(vals):.4f} | "
            f"{statistics.fmean(tests):.4f} ± {standard_error(tests):.4f} | {improved}/{len(rows)} | "
            f"{statistics.fmean(row.lm_calls for row in rows):.0f} |"
        )
    if args.no_transfer:
        return
    started = time.monotonic()
    cells = selftaught.transfer(
        runs[0].run_id, tasks=args.transfer_tasks, settings=settings.model_copy(update={"seeds": 1})
    )
    labels = list(dict.fromkeys(cell.label for cell in cells))
    print(
        f"\n## transfer of run {runs[0].run_id} (test split, mean ± SE over {args.tests} tests, "
        f"{time.monotonic() - started:.0f} s)\n"
    )
    print("| task | " + " | ".join(labels) + " |")
    print("|---" * (len(labels) + 1) + "|")
    for task in dict.fromkeys(cell.task for cell in cells):
        row = {cell.label: cell for cell in cells if cell.task == task}
        print(
            f"| {task} | "
            + " | ".join(
                f"{row[label].mean:.3f} ± {row[label].stderr:.3f}" if label in row else "-"
                for label in labels
            )
            + " |"
        )


if __name__ == "__main__":
    main()
