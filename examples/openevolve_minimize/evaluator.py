"""Scores a minimiser of `evaluate_function` (OpenEvolve evaluator format).

`evaluate_stage1` is a quick smoke test (one run must return three finite numbers); `evaluate_stage2`
runs the search from several seeds and scores how close it gets to the best value known, on average
and reliably. `evaluate` is the direct (non-cascade) form of the same score.
"""

import importlib.util
import math
import random

from openevolve.evaluation_result import EvaluationResult

BEST_KNOWN = -1.5187  # found by a fine grid search of the box [-5, 5]^2
SEEDS = (11, 22, 33, 44, 55)


def _load(program_path):
    spec = importlib.util.spec_from_file_location("program", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _one_run(module, seed):
    random.seed(seed)
    x, y, _claimed = module.run_search()
    x, y = float(x), float(y)
    if not all(math.isfinite(v) for v in (x, y)) or not (-5 <= x <= 5 and -5 <= y <= 5):
        raise ValueError(f"point ({x}, {y}) is outside the box [-5, 5]^2")
    # Recompute the value: the program's own claim is not trusted.
    return module.evaluate_function(x, y)


def evaluate_stage1(program_path):
    try:
        value = _one_run(_load(program_path), SEEDS[0])
    except Exception as exc:
        return EvaluationResult(
            metrics={"runs_ok": 0.0, "combined_score": 0.0}, artifacts={"error": str(exc)}
        )
    return {"runs_ok": 1.0, "combined_score": 1.0 / (1.0 + abs(value - BEST_KNOWN))}


def evaluate_stage2(program_path):
    module = _load(program_path)
    gaps = []
    for seed in SEEDS:
        try:
            gaps.append(abs(_one_run(module, seed) - BEST_KNOWN))
        except Exception as exc:
            return EvaluationResult(
                metrics={"value_score": 0.0, "reliability": 0.0, "combined_score": 0.0},
                artifacts={"error": f"seed {seed}: {exc}"},
            )
    value_score = sum(1.0 / (1.0 + gap) for gap in gaps) / len(gaps)
    reliability = sum(1.0 for gap in gaps if gap < 0.05) / len(gaps)
    return EvaluationResult(
        metrics={
            "value_score": value_score,
            "reliability": reliability,
            "combined_score": 0.7 * value_score + 0.3 * reliability,
        },
        artifacts={"gaps": ", ".join(f"{gap:.4f}" for gap in gaps)},
    )


def evaluate(program_path):
    return evaluate_stage2(program_path).metrics
