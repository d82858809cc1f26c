"""Synthetic run stores for report tests, written through `RunStore`'s own methods (real SQLite).

A module with a unique name (not conftest) so test files can import `make_run` unambiguously.

`make_run` writes a small but complete run (three iterations, candidates, LM calls, events, transfers)
with known numbers, so tests can compare what the report shows with what is stored. Real offline-model
runs are made in test_real_runs.py.
"""

from __future__ import annotations

from pathlib import Path

from selftaught.config import Settings
from selftaught.improvers import load_improver
from selftaught.store import (
    Context,
    ImproverRunRecord,
    IterationRecord,
    LmCallRecord,
    MetaUtilityRecord,
    RunMeta,
    RunStore,
    TransferCell,
)

BEAM_IMPROVER = '''from helpers import extract_code


def improve_algorithm(initial_solution, utility, language_model):
    """Beam search over rewrites."""
    beam = [initial_solution]
    scores = {initial_solution: utility(initial_solution)}
    for _ in range(language_model.budget):
        messages = [f"Improve:\\n{code}" for code in beam]
        for code in extract_code(language_model.batch_prompt("expert", messages, temperature=0.7)):
            scores[code] = utility(code)
        beam = sorted(scores, key=scores.get, reverse=True)[:2]
    return beam[0]
'''


def make_run(
    runs_dir: Path,
    run_id: str,
    *,
    status: str = "completed",
    group: str | None = None,
    seed: int = 0,
    values: tuple[float, ...] = (0.40, 0.55, 0.55),
    iterations: int = 2,
    with_transfers: bool = True,
    model: str | None = None,
) -> Path:
    """A run directory with `len(values)` iterations (t=0 seed, t=1 improved beam, then kept)."""
    run_dir = runs_dir / run_id
    store = RunStore(run_dir / "run.sqlite")
    settings = Settings(task="str_grid_dist", iterations=iterations, tests=2, runs_dir=runs_dir, seed=seed)
    store.write_meta(
        RunMeta(
            config=settings.model_dump(mode="json"),
            version="0.1.0",
            command=f"selftaught run --task str_grid_dist --iterations {iterations} --tests 2",
            model=model or f"offline:{seed}",
            task="str_grid_dist",
            status=status,
            started=1_700_000_000.0,
            group=group,
            seed=seed,
            finished=None if status == "running" else 1_700_000_100.0,
        )
    )
    seed_sha = store.put_program(load_improver("seed"), "improver")
    beam_sha = store.put_program(BEAM_IMPROVER, "improver")
    shas = [seed_sha, beam_sha] + [beam_sha] * max(0, len(values) - 2)
    for t, value in enumerate(values):
        status_t = "seed" if t == 0 else ("improved" if t == 1 else "kept")
        parent = None if t == 0 else shas[t - 1]
        store.add_iteration(
            IterationRecord(
                t=t,
                improver_sha=shas[t],
                parent_sha=parent,
                status=status_t,
                meta_utility_val=value + seed * 0.01,
                meta_utility_test=value - 0.05 + seed * 0.01,
                stderr_val=0.02,
                stderr_test=0.03,
                note="no valid improver" if status_t == "kept" else None,
                lm_calls=4 * t + 2,
                tokens_in=1000 * (t + 1),
                tokens_out=500 * (t + 1),
                cost_usd=0.001 * t,
                wall_seconds=3.5 + t,
            )
        )
        store.add_meta_utility(
            MetaUtilityRecord(
                Context.iteration(t),
                shas[t],
                "str_grid_dist",
                value + seed * 0.01,
                value - 0.05 + seed * 0.01,
                0.02,
                0.03,
                2,
            )
        )
        if t >= 1:
            for k, candidate in enumerate((0.30, 0.50, value)):
                store.add_meta_utility(
                    MetaUtilityRecord(
                        Context.candidates(t),
                        f"{k:02d}" + "c" * 62,
                        "str_grid_dist",
                        candidate,
                        candidate - 0.01,
                        0.0,
                        0.0,
                        2,
                    )
                )
        for k in range(2):
            store.add_improver_run(
                ImproverRunRecord(
                    context=Context.iteration(t),
                    improver_sha=shas[t],
                    task="str_grid_dist",
                    test_index=k,
                    input_sha="i" * 64,
                    output_sha="o" * 64,
                    error=None if k == 0 else "timeout",
                    utility_val=value,
                    utility_test=value,
                    lm_calls=2,
                    utility_calls=3,
                    wall_seconds=1.25,
                )
            )
        for cached in (False, False, True):
            store.add_lm_call(
                LmCallRecord(
                    iteration=t,
                    purpose=f"t={t}/test",
                    model=f"offline:{seed}",
                    n=3,
                    temperature=0.7,
                    tokens_in=100,
                    tokens_out=50,
                    latency_s=0.5,
                    cost_usd=0.0,
                    cached=cached,
                    error=None,
                )
            )
    store.add_event("lm-budget-exceeded", "call 5 of budget 4", iteration=1, program_sha=beam_sha)
    store.add_event("static:use-sandbox-false", "use_sandbox = False at line 3", iteration=1)
    if len(values) > 2:
        store.add_event("iteration-fallback", "t=2: no valid improver", iteration=2)
    if with_transfers:
        for label, mean in (("seed algorithm", 0.2), ("seed improver", 0.3), ("t=1", 0.35)):
            for task in ("three_sat", "maxcut"):
                store.put_transfer(TransferCell(label, task, mean, 0.01, 2))
    store.close()
    (run_dir / "improvers").mkdir(exist_ok=True)
    return run_dir
