"""Baseline improvers vs the seed improver at equal budgets: meta-utility on the offline model.

    .venv/bin/python benchmarks/baselines.py                        # the BENCHMARKS.md table
    .venv/bin/python benchmarks/baselines.py --seeds 2 --tests 2    # a quick look
    .venv/bin/python benchmarks/baselines.py --extra found=runs/<id>/improver_t3.py
    .venv/bin/python benchmarks/baselines.py --tasks circle_packing bin_packing --improvers seed greedy islands \
        --extra found=FILE --tests 2 --trace --plot benchmarks/results/score_vs_budget.png --out FILE.json

For every (task, improver, seed) it estimates the meta-utility (the mean downstream utility of what the
improver returns from the task's seed algorithm, over `--tests` independent runs) with the paper's
budgets (4 LM calls of 6 responses, utility budget 25). The seed varies the offline model; the
validation instances are the paper's fixed ones and the test seed is fixed per seed, so the numbers
are reproducible. Reported: mean over seeds and the standard error of that mean (seed-to-seed noise),
for the validation and the test split. Writes a JSON file and prints a Markdown table.

With `--trace` every improver run also records each utility call in order (LM calls spent so far,
utility), the final programs are scored with the task's full evaluation (so the sum of radii or the
excess bins are kept beside the score, `metrics` in the JSON), the seed algorithm itself is a row, and
`--plot` draws "score vs budget" (best validation utility so far against LM calls spent) per improver.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from selftaught.config import Settings
from selftaught.executors import make_executor
from selftaught.improvers import BUILTIN_IMPROVERS, load_improver
from selftaught.stop.assembly import open_session
from selftaught.stop.meta_utility import MetaUtility
from selftaught.stop.scoring import DownstreamScorer, SplitSeeds
from selftaught.tasks import VAL_SEED_BASE, load_task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from budget_trace import FinalScores, plot, traced_run

DEFAULT_TASKS = ("parity_noise", "three_sat", "maxcut")
TEST_SEED_BASE = 90_000


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    parser.add_argument("--improvers", nargs="*", default=list(BUILTIN_IMPROVERS))
    parser.add_argument(
        "--extra", nargs="*", default=[], metavar="LABEL=FILE", help="more improvers, e.g. one a run found"
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tests", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/baselines.json"))
    parser.add_argument(
        "--table", nargs="+", type=Path, metavar="JSON", help="only print the table of earlier results"
    )
    parser.add_argument(
        "--model", default="offline", help="model spec (default offline; a real one costs money)"
    )
    parser.add_argument("--trace", action="store_true", help="record every utility call (score vs budget)")
    parser.add_argument("--plot", type=Path, help="with --trace: write the score-vs-budget figure here")
    args = parser.parse_args(argv)
    if args.table:
        records = [json.loads(path.read_text()) for path in args.table]
        rows = [row for record in records for row in record["rows"]]
        tasks = list(dict.fromkeys(row["task"] for row in rows))
        print(table(rows, tasks, list(dict.fromkeys(row["improver"] for row in rows))))
        traces = [trace for record in records for trace in record.get("traces", [])]
        if args.plot and traces:
            plot(traces, records[0]["budgets"]["lm_calls"], args.plot)
        return 0
    if args.trace:
        return traced_main(args, argv)

    improvers = [(name, name) for name in args.improvers]
    for item in args.extra:
        label, _, path = item.partition("=")
        improvers.append((label, path))
    base = Settings(model=args.model, tests=args.tests, responses_per_call=6, lm_calls=4, utility_budget=25)
    sources = [(label, load_improver(spec)) for label, spec in improvers]
    executor = make_executor(base)
    results: dict[tuple[str, str], dict[str, list[float]]] = {}
    started = time.time()
    try:
        for task_name in args.tasks:
            task = load_task(task_name)
            for seed in range(args.seeds):
                settings = base.model_copy(
                    update={"task": task_name, "seed": seed, "test_seed": TEST_SEED_BASE + seed}
                )
                with open_session(settings, executor=executor) as session:
                    # One scorer per (task, seed): programs several improvers return are scored once.
                    seeds = SplitSeeds(VAL_SEED_BASE, TEST_SEED_BASE + seed)
                    scorer = DownstreamScorer(task, session.executor, seeds, None)
                    for label, source in sources:
                        result = MetaUtility(session, scorer, f"benchmark {label}").evaluate(source)
                        cell = results.setdefault((task_name, label), {"val": [], "test": []})
                        cell["val"].append(result.meta_utility)
                        cell["test"].append(result.meta_utility_test)
                        print(
                            f"{task_name:18s} {label:10s} seed {seed}: val {result.meta_utility:.4f} "
                            f"test {result.meta_utility_test:.4f} ({time.time() - started:.0f}s)",
                            file=sys.stderr,
                            flush=True,
                        )
                        save(
                            args, argv, results, started
                        )  # after every cell: an interrupted run keeps its numbers
    finally:
        executor.close()
    rows = save(args, argv, results, started)
    print(table(rows, args.tasks, [label for label, _ in improvers]))
    return 0


def traced_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The table plus a record of every utility call (see the module docstring)."""
    improvers = [(name, load_improver(name)) for name in args.improvers]
    improvers += [(label, load_improver(path)) for label, _, path in (e.partition("=") for e in args.extra)]
    base = Settings(model=args.model, tests=args.tests, responses_per_call=6, lm_calls=4, utility_budget=25)
    executor = make_executor(base)
    results: dict[tuple[str, str], dict[str, list]] = {}
    traces: list[dict] = []
    started = time.time()
    try:
        for task_name in args.tasks:
            task = load_task(task_name)
            for seed in range(args.seeds):
                settings = base.model_copy(
                    update={"task": task_name, "seed": seed, "test_seed": TEST_SEED_BASE + seed}
                )
                with open_session(settings, executor=executor) as session:
                    scorer = DownstreamScorer(
                        task, session.executor, SplitSeeds(VAL_SEED_BASE, TEST_SEED_BASE + seed), None
                    )
                    finals = FinalScores(scorer)
                    none = {split: finals.get(task.seed_algorithm, split) for split in ("val", "test")}
                    _add(
                        results,
                        task_name,
                        "seed algorithm",
                        none["val"].utility,
                        none["test"].utility,
                        none["val"].metrics,
                        none["test"].metrics,
                    )
                    for label, source in improvers:
                        runs = [
                            traced_run(session, scorer, finals, label, source, i) for i in range(args.tests)
                        ]
                        _add(
                            results,
                            task_name,
                            label,
                            mean([r.val for r in runs]),
                            mean([r.test for r in runs]),
                            _mean_metrics([r.metrics_val for r in runs]),
                            _mean_metrics([r.metrics_test for r in runs]),
                        )
                        traces += [
                            {
                                "task": task_name,
                                "improver": label,
                                "seed": seed,
                                "test": i,
                                "calls": r.calls,
                                "error": r.error,
                            }
                            for i, r in enumerate(runs)
                        ]
                        print(
                            f"{task_name:15s} {label:10s} seed {seed}: val {mean([r.val for r in runs]):.4f} "
                            f"test {mean([r.test for r in runs]):.4f} ({time.time() - started:.0f}s)",
                            file=sys.stderr,
                            flush=True,
                        )
                        save(args, argv, results, started, traces)
    finally:
        executor.close()
    rows = save(args, argv, results, started, traces)
    print(table(rows, args.tasks, ["seed algorithm", *(label for label, _ in improvers)]))
    print(metrics_table(rows, args.tasks))
    if args.plot:
        plot(traces, base.lm_calls, args.plot)
    return 0


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _add(
    results: dict, task: str, label: str, val: float, test: float, metrics_val: dict, metrics_test: dict
) -> None:
    cell = results.setdefault((task, label), {"val": [], "test": [], "metrics_val": [], "metrics_test": []})
    cell["val"].append(val)
    cell["test"].append(test)
    cell["metrics_val"].append(metrics_val)
    cell["metrics_test"].append(metrics_test)


def _mean_metrics(items: list[dict[str, float]]) -> dict[str, float]:
    keys = {key for item in items for key in item}
    return {
        key: sum(item[key] for item in items if key in item) / sum(1 for item in items if key in item)
        for key in sorted(keys)
    }


def metrics_table(rows: list[dict], tasks: list[str]) -> str:
    """Markdown: each task's own figure (mean over seeds) beside the score, validation (test)."""
    figure = {"circle_packing": "sum_radii", "bin_packing": "excess_pct"}
    lines = ["| task | improver | figure | val | test |", "|---|---|---|---|---|"]
    for row in rows:
        key = figure.get(row["task"])
        if key is None or row["task"] not in tasks:
            continue
        val = [m[key] for m in row.get("metrics_val", []) if key in m]
        test = [m[key] for m in row.get("metrics_test", []) if key in m]
        if val and test:
            lines.append(
                f"| {row['task']} | {row['improver']} | {key} | {sum(val) / len(val):.4f} | "
                f"{sum(test) / len(test):.4f} |"
            )
    return "\n".join(lines)


def save(
    args: argparse.Namespace,
    argv: list[str] | None,
    results: dict,
    started: float,
    traces: list[dict] | None = None,
) -> list[dict]:
    """Write the JSON record (command, settings, per-seed values) and return its rows."""
    rows = [{"task": task, "improver": label, **cell} for (task, label), cell in results.items()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": " ".join(["benchmarks/baselines.py", *(argv if argv is not None else sys.argv[1:])]),
        "model": args.model,
        "seeds": args.seeds,
        "tests": args.tests,
        "budgets": {"lm_calls": 4, "responses_per_call": 6, "utility_budget": 25},
        "seconds": round(time.time() - started, 1),
        "rows": rows,
    }
    if traces is not None:
        record["traces"] = traces
    args.out.write_text(json.dumps(record, indent=2))
    return rows


def table(rows: list[dict], tasks: list[str], labels: list[str]) -> str:
    """Markdown: one row per improver, one column per task, `val mean ± SE (test mean ± SE)`."""
    cells = {(row["task"], row["improver"]): row for row in rows}
    lines = ["| improver | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
    for label in labels:
        parts = []
        for task in tasks:
            row = cells.get((task, label))
            if row is None:
                parts.append("—")
                continue
            (v, v_se), (t, t_se) = mean_se(row["val"]), mean_se(row["test"])
            parts.append(f"{v:.3f} ± {v_se:.3f} ({t:.3f} ± {t_se:.3f})")
        lines.append(f"| {label} | " + " | ".join(parts) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
