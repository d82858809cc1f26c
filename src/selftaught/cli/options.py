"""Flags shared by the commands that run STOP, declared once, their help derived from `selftaught.defaults`.

Each command names the knobs it uses in one list (`RUN_KNOBS`, `IMPROVE_KNOBS`, ...) and `with_knobs`
makes one flag per knob from `defaults.KNOBS`, so a flag cannot be missing from a command that reads its
setting, nor be listed twice (signature and overrides) and drift.

Every flag defaults to None ("not given") so that `selftaught.toml` values apply unless the flag is
passed; `selftaught.config.load_settings` merges and checks them. The help text (meaning, allowed
values, default) is built from the same table the settings model reads, so it cannot drift, and
building it imports nothing heavier than typer.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from selftaught.defaults import KNOBS, flag_help

F = TypeVar("F", bound=Callable[..., Any])


def _flag(name: str, *aliases: str) -> Any:
    return typer.Option("--" + name.replace("_", "-"), *aliases, help=flag_help(name), show_default=False)


Config = Annotated[
    Path | None, typer.Option("--config", help="Settings file. (default: ./selftaught.toml if present)")
]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


# The knobs each command has, as flags: one list per command, so a knob exists on every command that
# uses it (the settings those commands read), and no flag is declared twice.
_LM: tuple[str, ...] = ("model", "temperature", "api_key_env", "max_tokens", "request_timeout")
_LM += ("concurrency", "max_retries", "max_cost", "prices_file", "preflight")
_WHERE = ("sandbox", "workers", "executor", "ray_address")
_BUDGETS = ("responses_per_call", "lm_calls", "utility_budget", "improver_timeout", "seed", "test_seed")
RUN_KNOBS = tuple(KNOBS)  # `run` uses every setting
IMPROVE_KNOBS = (*_BUDGETS, "protocol", *_LM, *_WHERE)
META_EVAL_KNOBS = ("task", "tests", *IMPROVE_KNOBS)
TRANSFER_KNOBS = ("tests", "runs_dir", *IMPROVE_KNOBS)
SANDBOX_FLAG_KNOBS = ("task", "responses_per_call", "seed", "runs_dir", *_LM, *_WHERE)

_ALIASES = {"iterations": ("-T",)}
_KINDS: dict[type, Any] = {int: int | None, float: float | None, str: str | None, Path: Path | None}


def knob_option(name: str) -> Any:
    """The flag of knob `name`, its type and help from `defaults.KNOBS` (None: not given)."""
    knob = KNOBS[name]
    if knob.kind is bool:
        return Annotated[
            bool | None, typer.Option(f"{knob.flag}/--no-{knob.flag[2:]}", help=knob.flag_help())
        ]
    return Annotated[_KINDS[knob.kind], _flag(name, *_ALIASES.get(name, ()))]


def with_knobs(*names: str) -> Callable[[F], F]:
    """Give a command one flag per knob in `names`; the command receives those that were given as
    `knobs: dict[str, Any]` (ready for `config.load_settings`). Typer reads the command's signature,
    so the generated one lists the command's own parameters, then the knobs."""

    def decorate(func: F) -> F:
        hints = typing.get_type_hints(func, include_extras=True)
        own = [
            parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[parameter.name])
            for parameter in inspect.signature(func).parameters.values()
            if parameter.name != "knobs"
        ]
        taken = {parameter.name for parameter in own}
        knobs = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=knob_option(name)
            )
            for name in names
            if name not in taken
        ]

        def command(**kwargs: Any) -> Any:
            given = overrides(**{name: kwargs.pop(name) for name in names if name not in taken})
            return func(knobs=given, **kwargs)

        parameters = [*own, *knobs]
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
        command.__name__ = func.__name__
        command.__qualname__ = func.__qualname__
        command.__doc__ = func.__doc__
        command.__module__ = func.__module__
        return command  # type: ignore[return-value]

    return decorate


RunsDir = knob_option("runs_dir")  # for the commands that only read runs
ApiKeyEnv = knob_option("api_key_env")
MaxCost = knob_option("max_cost")


def overrides(**flags: Any) -> dict[str, Any]:
    """Flag values that were actually given (None means 'use the config file or default')."""
    return {key: value for key, value in flags.items() if value is not None}


def runs_dir(given: Path | None, config: Path | None = None) -> Path:
    """`--runs-dir`, else `selftaught.toml`'s, else the default (for commands that only read runs)."""
    if given is not None:
        return given
    from selftaught.config import load_settings

    return load_settings({}, config).runs_dir
