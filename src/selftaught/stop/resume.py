"""Resuming a run: what it may change (how it runs, never what it computes), and its stored settings.

A resumed run continues with the settings stored at its start; silently taking `--tests 3` on a run
started with 5 would mix two experiments in one store, so such a resume is refused instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selftaught.config import Settings
from selftaught.defaults import KNOBS
from selftaught.errors import UsageError
from selftaught.improvers import load_improver
from selftaught.store import RunDir, RunMeta, RunReader, RunStore
from selftaught.tasks.registry import stored_task

# What a resumed run may change: how it runs, never what it computes.
RESUME_OVERRIDABLE = frozenset(
    {
        "max_cost",
        "sandbox",
        "workers",
        "executor",
        "ray_address",
        "api_key_env",
        "concurrency",
        "request_timeout",
        "max_retries",
        "prices_file",
        "preflight",
    }
)


def check_resume(runs_dir: Path, run_id: str, overrides: dict[str, Any]) -> None:
    """Refuse a resume that would change what the run computes (only `RESUME_OVERRIDABLE` may change).

    Silently ignoring `--tests 3` on a run started with 5 would mix two experiments in one store.
    """
    reader = RunReader.open(RunDir.existing(runs_dir, run_id).store_file)
    try:
        config = reader.meta().config
    finally:
        reader.close()
    if config is None:
        return  # run_once says why such a run cannot be resumed
    stored = stored_settings(config)
    changed = [
        key
        for key, value in overrides.items()
        if key not in RESUME_OVERRIDABLE
        and key not in ("iterations", "runs_dir")
        and value is not None
        and value != getattr(stored, key, value)
    ]
    if changed:
        key = changed[0]
        allowed = ", ".join("--" + name.replace("_", "-") for name in sorted(RESUME_OVERRIDABLE))
        raise UsageError(
            f"--resume continues run {run_id} with its stored settings: --{key.replace('_', '-')} "
            f"{overrides[key]} differs from the run's {getattr(stored, key)} (a resume may change only "
            f"{allowed} and raise --iterations; selftaught.toml is not re-read)"
        )


def stored_settings(config: dict[str, Any]) -> Settings:
    """A run's stored settings. A run stored before iterations had their own estimate size estimated
    them with --tests runs, so that is what it resumes with."""
    return Settings(**{"estimate_tests": config.get("tests", KNOBS["tests"].default), **config})


def resumed_settings(
    settings: Settings, meta: RunMeta, run_dir: Path, extend_to: int | None, overrides: dict[str, Any]
) -> Settings:
    """The stored settings of the run in `run_dir`, with the operational `overrides` allowed and
    `--iterations` raised to `extend_to`; an older run's relative task directory resolved where it
    started."""
    stored = stored_settings(meta.config or {})
    bases = [Path(meta.workdir)] if meta.workdir else []
    bases += [run_dir.parent.parent, Path.cwd()]  # the directory holding runs/, then here
    stored = stored.model_copy(update={"task": stored_task(stored.task, bases)})
    update: dict[str, Any] = {key: value for key, value in overrides.items() if key in RESUME_OVERRIDABLE}
    update.update(iterations=max(stored.iterations, extend_to or 0), runs_dir=settings.runs_dir)
    return stored.model_copy(update=update)


def stored_seed_improver(store: RunStore) -> str:
    """A resumed run's I_0: the stored iteration 0, else the improver its settings name."""
    first = next((it for it in store.iterations() if it.t == 0), None)
    if first is not None:
        source = store.get_program(first.improver_sha)
        if source is not None:
            return source
    config = stored_settings(store.meta().config or {})
    return load_improver(config.improver)
