"""OpenEvolve's own examples scored by OpenEvolve and by selftaught: the table of docs/openevolve.md.

    python benchmarks/openevolve_examples.py --openevolve /path/to/openevolve-checkout \
        --native-python /path/to/venv-with-openevolve/bin/python [--selftaught-python PY] [--only NAME] \
        [--runs 2] [--out results.json]

`--openevolve` is a checkout of OpenEvolve's repository (its `examples/` directory is read, never
copied here); the algotune evaluators look for the AlgoTune repository at `AlgoTune/` beside
`examples/` (OpenEvolve's own layout). `--native-python` is an interpreter with `openevolve` installed
from the package index (and the examples' requirements): each (example, program) row is scored there by
OpenEvolve's own `Evaluator.evaluate_program`, whose metrics give the fitness OpenEvolve ranks by
(`get_fitness_score` with the config's feature dimensions), `--runs` times, to see its run-to-run spread.
Then `selftaught eval openevolve:DIR PROGRAM --json` scores the same files once, with
`--selftaught-python` (default: this interpreter; it needs the examples' requirements too, since
selftaught checks `requirements.txt` before running anything).

A row matches when selftaught's utility lies within OpenEvolve's own run-to-run spread: no further from
the native scores' range than that range is wide (`[low - w, high + w]`, `w = high - low`, plus 1e-6;
so a deterministic example must give exactly OpenEvolve's number). Where an example measures time (algotune's `performance_score`), a few
native runs give a narrow spread, while selftaught's timings include the candidate's calls crossing to
its own process: docs/openevolve.md says so row by row.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ALGOTUNE = [
    "affine_transform_2d",
    "convolve2d_full_fill",
    "eigenvectors_complex",
    "fft_cmplx_scipy_fftpack",
    "fft_convolution",
    "lu_factorization",
    "polynomial_real",
    "psd_cone_projection",
]
# One variant per problem where the directory has several (heilbronn_convex/13, hexagon_packing/11, ...).
ALPHAEVOLVE = [
    "circle_packing_rect",
    "erdos_min_overlap",
    "first_autocorr_ineq",
    "heilbronn_convex/13",
    "heilbronn_triangle",
    "hexagon_packing/11",
    "kissing_number",
    "matmul",
    "minimizing_max_min_dist/2",
    "second_autocorr_ineq",
    "sums_diffs_finite_sets",
    "third_autocorr_ineq",
    "uncertainty_ineq",
]


def rows() -> list[tuple[str, str]]:
    """(example directory under examples/, program file) for every row of the table (36)."""
    table = []
    for name in ALGOTUNE:
        table += [(f"algotune/{name}", "initial_program.py"), (f"algotune/{name}", "best_program.py")]
    table += [(f"alphaevolve_math_problems/{name}", "initial_program.py") for name in ALPHAEVOLVE]
    table += [
        ("circle_packing", "initial_program.py"),
        ("circle_packing", "best_program.py"),
        ("circle_packing_with_artifacts", "initial_program.py"),
        ("function_minimization", "initial_program.py"),
        ("k_module_problem", "initial_program.py"),
        ("signal_processing", "initial_program.py"),
        ("web_scraper_optillm", "initial_program.py"),
    ]
    return table


# Runs in the native interpreter: OpenEvolve's own Evaluator on one program, printing one JSON line.
NATIVE = r"""
import asyncio, json, math, sys
from pathlib import Path
from openevolve.config import load_config
from openevolve.evaluator import Evaluator
from openevolve.utils.metrics_utils import get_fitness_score

directory, program = Path(sys.argv[1]), Path(sys.argv[2])
config_path = directory / "config.yaml"
config = load_config(str(config_path) if config_path.exists() else None)
evaluator = Evaluator(config.evaluator, str(directory / "evaluator.py"))
metrics = asyncio.run(evaluator.evaluate_program(program.read_text(), "row"))
fitness = get_fitness_score(metrics, config.database.feature_dimensions)
def plain(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return value if math.isfinite(float(value)) else str(value)
    return repr(value)[:200]
print("@@NATIVE@@" + json.dumps({"fitness": fitness, "metrics": {k: plain(v) for k, v in metrics.items()}}))
sys.stdout.flush()
# A call OpenEvolve timed out goes on in its thread, which would hold the interpreter open at exit.
import os; os._exit(0)
"""


@dataclass
class Row:
    example: str
    program: str
    native: list[float | None] = field(default_factory=list)
    native_seconds: list[float] = field(default_factory=list)
    native_note: str = ""
    ours: float | None = None
    ours_runs: list[float | None] = field(default_factory=list)
    ours_seconds: float = 0.0
    ours_note: str = ""
    verdict: str = ""


def native_score(
    python: str, directory: Path, program: Path, timeout: float
) -> tuple[float | None, str, float]:
    started = time.monotonic()
    try:
        done = subprocess.run(
            [python, "-c", NATIVE, str(directory), str(program)],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return None, f"native run exceeded {timeout:g} s", time.monotonic() - started
    seconds = time.monotonic() - started
    for line in (done.stdout or "").splitlines():
        if line.startswith("@@NATIVE@@"):
            data = json.loads(line[len("@@NATIVE@@") :])
            return float(data["fitness"]), _short(data["metrics"]), seconds
    return None, (done.stderr.strip().splitlines() or ["no output"])[-1][:200], seconds


def selftaught_score(
    python: str, directory: Path, program: Path, timeout: float
) -> tuple[float | None, str, float]:
    started = time.monotonic()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    try:
        done = subprocess.run(
            [python, "-m", "selftaught", "eval", f"openevolve:{directory}", str(program), "--json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return None, f"selftaught eval exceeded {timeout:g} s", time.monotonic() - started
    seconds = time.monotonic() - started
    if done.returncode != 0:
        return (
            None,
            f"exit {done.returncode}: " + (done.stderr.strip().splitlines() or [""])[-1][:200],
            seconds,
        )
    data = json.loads(done.stdout)
    note = data.get("setup_error") or _short(data.get("metrics", {}))
    return float(data["utility"]), str(note)[:200], seconds


def _short(metrics: dict) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(metrics.items())[:6]
    )


TIMED_ALGOTUNE = {f"algotune/{name}" for name in ALGOTUNE}


def stage(directory: Path, checkout: Path, target: Path) -> Path:
    """An algotune task directory as selftaught needs it: the example's files plus the parts of AlgoTune
    it imports at `github/AlgoTune` (`~/github/AlgoTune` is the evaluator's own third place to look, and
    the evaluator's home in the sandbox is its directory). Natively it finds AlgoTune beside
    `examples/`, outside the task directory, which the sandbox does not show it."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(directory, target)
    algotune = checkout / "AlgoTune"
    home = target / "github" / "AlgoTune"
    shutil.copytree(algotune / "AlgoTuner", home / "AlgoTuner", ignore=shutil.ignore_patterns("__pycache__"))
    tasks = home / "AlgoTuneTasks"
    tasks.mkdir(parents=True)
    for name in ("__init__.py", "base.py", "factory.py", "registry.py"):
        shutil.copy2(algotune / "AlgoTuneTasks" / name, tasks / name)
    shutil.copytree(algotune / "AlgoTuneTasks" / directory.name, tasks / directory.name)
    return target


def verdict(row: Row) -> str:
    scores = [value for value in row.native if value is not None]
    if row.ours is None:
        return "refused" if row.ours_note.startswith("exit 2") else "no score"
    if not scores:
        return "no native score"
    low, high = min(scores), max(scores)
    slack = (high - low) + 1e-6
    return "match" if low - slack <= row.ours <= high + slack else "differs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--openevolve", type=Path, required=True, help="an OpenEvolve checkout (with examples/)"
    )
    parser.add_argument("--native-python", required=True, help="an interpreter with openevolve installed")
    parser.add_argument("--selftaught-python", default=sys.executable)
    parser.add_argument("--runs", type=int, default=2, help="native runs per row (the spread)")
    parser.add_argument(
        "--ours-runs",
        type=int,
        default=1,
        help="selftaught runs per row, alternating with the native runs (both sides see the same load); "
        "the row's score is their median",
    )
    parser.add_argument("--only", default="", help="rows whose example contains this text")
    parser.add_argument("--timeout", type=float, default=1500.0, help="seconds per run of either side")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    parser.add_argument("--skip-native", type=Path, help="reuse the native scores of an earlier --out file")
    parser.add_argument("--native-only", action="store_true", help="score natively only (for --skip-native)")
    parser.add_argument("--ours-only", action="store_true", help="score with selftaught only")
    parser.add_argument(
        "--combine",
        nargs=2,
        type=Path,
        metavar=("NATIVE_JSON", "OURS_JSON"),
        help="print the table of an earlier --native-only and --ours-only pair of --out files",
    )
    parser.add_argument(
        "--stage",
        type=Path,
        default=Path("/tmp/openevolve-examples-staged"),
        help="where the algotune task directories are staged for selftaught (outside this repository)",
    )
    args = parser.parse_args()
    if args.combine:
        native_rows = {(r["example"], r["program"]): r for r in json.loads(args.combine[0].read_text())}
        combined = []
        for data in json.loads(args.combine[1].read_text()):
            row = Row(**data)
            old = native_rows.get((row.example, row.program), {})
            row.native, row.native_seconds = old.get("native", []), old.get("native_seconds", [])
            row.native_note = old.get("native_note", "")
            row.verdict = verdict(row)
            combined.append(row)
        print_table(combined)
        return
    examples = args.openevolve / "examples"
    earlier = {}
    if args.skip_native:
        earlier = {(r["example"], r["program"]): r for r in json.loads(args.skip_native.read_text())}
    done: list[Row] = []
    for example, program in rows():
        if args.only and args.only not in example:
            continue
        row = Row(example, program)
        directory, path = examples / example, examples / example / program
        if args.ours_only:
            pass
        elif (example, program) in earlier:
            old = earlier[(example, program)]
            row.native, row.native_seconds, row.native_note = (
                old["native"],
                old["native_seconds"],
                old["native_note"],
            )
        native_runs = 0 if args.ours_only or (example, program) in earlier else args.runs
        ours_runs = 0 if args.native_only else max(1, args.ours_runs)
        task_directory = directory
        if ours_runs and example in TIMED_ALGOTUNE:
            task_directory = stage(directory, args.openevolve, args.stage / example)
        for turn in range(max(native_runs, ours_runs)):
            if turn < native_runs:
                value, note, seconds = native_score(args.native_python, directory, path, args.timeout)
                row.native.append(value)
                row.native_seconds.append(round(seconds, 1))
                row.native_note = note
            if turn < ours_runs:
                value, row.ours_note, seconds = selftaught_score(
                    args.selftaught_python, task_directory, path, args.timeout
                )
                row.ours_runs.append(value)
                row.ours_seconds += seconds
        scored = sorted(value for value in row.ours_runs if value is not None)
        row.ours = scored[(len(scored) - 1) // 2] if scored else None
        row.ours_seconds = round(row.ours_seconds, 1)
        row.verdict = verdict(row)
        done.append(row)
        native = " ".join("-" if v is None else f"{v:.6g}" for v in row.native)
        ours = " ".join("-" if v is None else f"{v:.6g}" for v in row.ours_runs) or "-"
        print(f"{example:45s} {program:24s} native {native:24s} ours {ours:12s} {row.verdict}", flush=True)
        if row.verdict != "match":
            print(f"    native: {row.native_note}\n    ours:   {row.ours_note}", flush=True)
        if args.out:
            args.out.write_text(json.dumps([asdict(r) for r in done], indent=1))
    print_table(done)


def inside(row: Row) -> bool:
    """Whether selftaught's score lies within the native runs' own range, without the rule's slack."""
    scores = [value for value in row.native if value is not None]
    return bool(scores) and row.ours is not None and min(scores) <= row.ours <= max(scores)


def print_table(done: list[Row]) -> None:
    """The Markdown table of docs/openevolve.md (reasons are added there by hand) and the tally: by the
    rule (`verdict`) and inside the native range itself."""
    print("\n| example | program | OpenEvolve (runs) | selftaught (runs) | verdict |\n|---|---|---|---|---|")
    for row in done:
        native = ", ".join("-" if v is None else f"{v:.4g}" for v in row.native)
        ours = "-" if row.ours is None else f"{row.ours:.4g}"
        if len(row.ours_runs) > 1:
            ours += " (" + ", ".join("-" if v is None else f"{v:.4g}" for v in row.ours_runs) + ")"
        print(f"| {row.example} | {row.program} | {native} | {ours} | {row.verdict} |")
    matched = sum(row.verdict == "match" for row in done)
    within = sum(inside(row) for row in done)
    print(
        f"\n{matched} of {len(done)} rows match OpenEvolve's run-to-run spread by the rule; {within} lie inside"
    )
    print("the native runs' own range")


if __name__ == "__main__":
    main()
