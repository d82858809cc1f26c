"""Assembling a session: settings resolved and checked, then executor, model client and store bound together.

Every entry point (the API, the CLI through it, the safety experiment, benchmarks) opens its sandbox pool
and model client here, so one retry policy, one preflight and one way of recording LM calls hold for all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selftaught import events as event_kinds
from selftaught.config import Settings, load_settings
from selftaught.errors import UsageError
from selftaught.executors import make_executor
from selftaught.improvers import load_improver
from selftaught.lm import ModelSettings, open_model, parse_spec
from selftaught.lm.client import check_model
from selftaught.lm.preflight import needs_preflight, preflight
from selftaught.sandbox.executor import Executor
from selftaught.stop.session import NoProgress, Progress, Session
from selftaught.store import RunDir, RunStore
from selftaught.tasks import load_task


def resolve_settings(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    """The API's settings: a `Settings` as given (with keyword overrides), or selftaught.toml + overrides."""
    if settings is None:
        return load_settings(overrides)
    return settings.model_copy(update=overrides) if overrides else settings


def model_spec(settings: Settings, replicate: int) -> str:
    """The offline model is seeded by the run seed (and replicate) unless the spec fixes a seed."""
    if settings.model == "offline":
        return f"offline:{settings.seed + replicate}"
    return settings.model


def model_settings(settings: Settings, **extra: Any) -> ModelSettings:
    """The model client's settings from a run's: one retry policy for runs, the preflight and `doctor`."""
    return ModelSettings(
        api_key_env=settings.api_key_env,
        max_tokens=settings.max_tokens,
        timeout=settings.request_timeout,
        concurrency=settings.concurrency,
        max_retries=settings.max_retries,
        max_cost=settings.max_cost,
        prices_file=settings.prices_file,
        **extra,
    )


MODEL_WHERE = "--model (selftaught.toml: lm.model)"


def check_settings(settings: Settings) -> None:
    """Refuse settings that cannot work before anything is created (no run directory, no sandbox):
    an unknown task or improver, a malformed model spec, a missing API key, a cost cap on a model
    with no known price. Each error is one line naming the flag and the file key."""
    _named("--task (selftaught.toml: run.task)", lambda: load_task(settings.task, settings.protocol))
    _named("--improver (selftaught.toml: run.improver)", lambda: load_improver(settings.improver))
    _named(MODEL_WHERE, lambda: parse_spec(settings.model))
    check_model(model_spec(settings, 0), model_settings(settings, cache_mode="off"))


def _named(where: str, check: Callable[[], object]) -> None:
    """Run `check`; its `UsageError` says which flag and file key the wrong value came from."""
    try:
        check()
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


@contextmanager
def open_session(
    settings: Settings,
    *,
    store: RunStore | None = None,
    run_dir: Path | None = None,
    replicate: int = 0,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> Iterator[Session]:
    """Open executor (unless given), model client and store bindings for one computation."""
    own_executor = executor is None
    active_executor = executor if executor is not None else make_executor(settings)
    try:
        client = open_model(
            model_spec(settings, replicate),
            model_settings(
                settings,
                cache_path=RunDir(run_dir).lm_cache_file if run_dir is not None else None,
                cache_mode=settings.cache if run_dir is not None else "off",
            ),
        )
        try:
            # A dead endpoint, key or model fails here, in seconds (not counted anywhere).
            checked = preflight(client) if settings.preflight and needs_preflight(client) else None
            session = Session(
                settings=settings,
                executor=active_executor,
                client=client,
                store=store,
                progress=progress or NoProgress(),
            )
            if checked is not None and checked.warning:
                session.event(event_kinds.LM_PREFLIGHT, checked.warning)
            client.recorder = session.record_lm_call  # from here on: the preflight's call is not the run's
            yield session
        finally:
            client.close()
    finally:
        if own_executor:
            active_executor.close()


def _check_endpoint(session: Session) -> None:
    """Raise the model endpoint's failure, if one happened: the result computed around it is not a
    measurement (every later LM call failed at once), so the command fails (exit 1) instead."""
    failure = getattr(session.client, "endpoint_failure", None)
    if failure is not None:
        raise failure


def check_endpoint(session: Session) -> None:
    """Raise the model endpoint's failure, if one happened: the result computed around it is not a
    measurement (every later LM call failed at once), so the command fails (exit 1) instead."""
    failure = session.client.endpoint_failure
    if failure is not None:
        raise failure
