"""Every run setting's default, range and one-line meaning, in one plain table (stdlib only).

Why a plain table: `selftaught --help` must show the defaults without importing pydantic (start-up
time), and the pydantic `Settings` model must not restate them (drift). Both read `KNOBS`: the CLI
builds its help text and value checks from it, `selftaught.config.Settings` its fields.

The settings form one tree of four sections — run, lm, sandbox, executor — which is also the layout
of `selftaught.toml` (`[run] iterations = 5`, `[sandbox] mode = "weak"`). Inside a run the settings
stay one flat record whose field names are the flag names (`--lm-calls` -> `lm_calls`), and the flat
keys of older `selftaught.toml` files (`iterations = 5` at the top level) are still accepted.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SECTIONS = ("run", "lm", "sandbox", "executor")


@dataclass(frozen=True)
class Knob:
    """One setting: flat name (= flag name with `_`), section, default, allowed values and meaning."""

    name: str
    section: str
    kind: type  # int, float, str, Path or bool
    default: Any
    help: str
    key: str = ""  # its name inside its section when that differs from `name` (e.g. sandbox.mode)
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself is not allowed (> instead of >=)
    optional: bool = False  # None ("not set") is a valid value
    shown_default: str = ""  # how help shows the default when the value itself says little

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def section_key(self) -> str:
        return self.key or self.name

    def default_text(self) -> str:
        if self.shown_default:
            return self.shown_default
        if isinstance(self.default, float) and self.default.is_integer():
            return str(int(self.default))
        return str(self.default)

    def flag_help(self) -> str:
        """The flag's help line: meaning, allowed values, default (derived, never typed twice)."""
        text = self.help
        if self.choices:
            text += f" One of: {', '.join(self.choices)}."
        if self.default is not None or self.shown_default:
            text += f" (default: {self.default_text()})"
        return text


def _knobs(*items: Knob) -> dict[str, Knob]:
    return {knob.name: knob for knob in items}


KNOBS: dict[str, Knob] = _knobs(
    # run: what is computed
    # circle_packing: the task where self-improvement with the offline model gains on test within about a
    # minute (BENCHMARKS.md, "The main job's default task"); parity_noise is the paper's headline.
    Knob(
        "task",
        "run",
        str,
        "circle_packing",
        "Built-in task name, a task directory, or openevolve:PATH (the paper's headline: parity_noise).",
    ),
    Knob("improver", "run", str, "seed", "Starting improver: seed, a baseline name or FILE."),
    Knob("iterations", "run", int, 3, "Self-improvement iterations T.", low=0, high=100),
    Knob("tests", "run", int, 5, "Improver runs per meta-utility estimate.", low=1, high=1000),
    Knob(
        "estimate_tests",
        "run",
        int,
        40,
        "Improver runs in each iteration's fresh meta-utility estimate (the run table and its last line; "
        "candidates are scored with --tests): enough that one run can tell a real gain from noise.",
        low=1,
        high=1000,
    ),
    Knob("responses_per_call", "run", int, 6, "Max responses per LM call.", low=1, high=128),
    Knob("lm_calls", "run", int, 4, "LM calls per improver run.", low=1, high=1000),
    Knob("utility_budget", "run", int, 25, "Utility calls per improver run.", low=1, high=10_000),
    Knob("seed", "run", int, 0, "Run seed (offline model seed and run identity).", low=0),
    Knob("seeds", "run", int, 1, "Independent runs to aggregate (mean ± SE).", low=1, high=100),
    Knob(
        "test_seed",
        "run",
        int,
        None,
        "Fix the secret test-split seed.",
        optional=True,
        shown_default="drawn per run",
    ),
    Knob(
        "improver_timeout",
        "run",
        float,
        300.0,
        "Wall-clock seconds for one improver run.",
        low=0,
        low_open=True,
    ),
    Knob(
        "meta_improver_timeout",
        "run",
        float,
        3600.0,
        "Wall-clock seconds for one self-improvement step (the improver improving itself).",
        low=0,
        low_open=True,
    ),
    Knob(
        "protocol",
        "run",
        str,
        "strict",
        "paper: the original code's instances, public test seeds and scoring, comparable with the paper "
        "(docs/tasks.md).",
        choices=("strict", "paper"),
    ),
    Knob("runs_dir", "run", Path, Path("runs"), "Where runs are stored.", shown_default="./runs"),
    # lm: which model and how it is called
    Knob(
        "model",
        "lm",
        str,
        "offline",
        "offline[:SEED] (no network) or openai/<model>@<base_url> (the @<base_url> part is optional).",
    ),
    Knob(
        "temperature",
        "lm",
        float,
        0.7,
        "Sampling temperature of an LM call whose improver names none (the built-in improvers name "
        "their own, as the paper's seed improver does).",
        low=0.0,
        high=2.0,
    ),
    Knob("api_key_env", "lm", str, "OPENAI_API_KEY", "Environment variable holding the API key."),
    Knob("max_tokens", "lm", int, 1024, "Max tokens per response.", low=1),
    Knob(
        "request_timeout",
        "lm",
        float,
        120.0,
        "Seconds before one LM request is retried.",
        low=0,
        low_open=True,
    ),
    Knob("concurrency", "lm", int, 8, "LM requests in flight.", low=1, high=1024),
    Knob("max_retries", "lm", int, 6, "Retries of a failed LM request.", low=0, high=100),
    Knob(
        "max_cost",
        "lm",
        float,
        None,
        "Stop new LM calls once this many USD are spent.",
        low=0,
        optional=True,
        shown_default="no cap",
    ),
    Knob(
        "prices_file",
        "lm",
        Path,
        None,
        "TOML file of USD prices per million tokens.",
        optional=True,
        shown_default="built-in prices",
    ),
    Knob(
        "cache", "lm", str, "read-write", "LM reply cache of a run.", choices=("off", "read-write", "replay")
    ),
    Knob(
        "preflight", "lm", bool, True, "Send one small chat request to the model before starting (fail fast)."
    ),
    # sandbox: where generated code runs
    Knob(
        "sandbox",
        "sandbox",
        str,
        "strong",
        "Isolation: weak has fewer layers and is logged loudly.",
        key="mode",
        choices=("strong", "weak"),
    ),
    Knob(
        "workers",
        "sandbox",
        int,
        None,
        "Sandbox workers.",
        low=1,
        high=512,
        optional=True,
        shown_default="one per core",
    ),
    # executor: which machines
    Knob(
        "executor", "executor", str, "local", "Where sandbox jobs run.", key="kind", choices=("local", "ray")
    ),
    Knob("ray_address", "executor", str, "auto", "Ray cluster address.", key="address"),
)


def knob(name: str) -> Knob:
    return KNOBS[name]


def flag_help(name: str) -> str:
    return KNOBS[name].flag_help()


def suggest(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """' (did you mean X?)' when one candidate is close to `word`, else ''."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_value(knob: Knob, value: Any, where: str) -> Any:
    """`value` converted to the knob's kind and checked; a plain sentence naming `where` if not.

    `where` is how the user wrote it (`--iterations`, `selftaught.toml: run.iterations`), so errors
    speak the user's words, not the model's field names. Returns the converted value.
    """
    if value is None:
        if knob.optional:
            return None
        raise ValueError(f"{where} must be set")
    converted = _convert(knob, value, where)
    if knob.choices and converted not in knob.choices:
        raise ValueError(
            f"{where} must be one of {', '.join(knob.choices)}, got {converted!r}"
            f"{suggest(str(converted), knob.choices)}"
        )
    if isinstance(converted, int | float) and not isinstance(converted, bool):
        _check_range(knob, converted, where)
    return converted


def _convert(knob: Knob, value: Any, where: str) -> Any:
    wanted = {int: "an integer", float: "a number", str: "a string", Path: "a path", bool: "true or false"}
    if knob.kind is bool:
        if isinstance(value, bool):
            return value
    elif knob.kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif knob.kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif knob.kind is Path:
        if isinstance(value, str | Path) and str(value):
            return Path(value)
    elif isinstance(value, str):
        return value
    raise ValueError(f"{where} must be {wanted[knob.kind]}, got {value!r}")


def _check_range(knob: Knob, value: float, where: str) -> None:
    low_ok = knob.low is None or (value > knob.low if knob.low_open else value >= knob.low)
    high_ok = knob.high is None or value <= knob.high
    if low_ok and high_ok:
        return
    if knob.low is not None and knob.high is not None:
        bounds = f"between {knob.low:g} and {knob.high:g}"
    elif knob.low is not None:
        bounds = f"greater than {knob.low:g}" if knob.low_open else f"at least {knob.low:g}"
    else:
        bounds = f"at most {knob.high:g}"
    raise ValueError(f"{where} must be {bounds}, got {value:g}")
