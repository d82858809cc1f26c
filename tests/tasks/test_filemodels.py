"""The pydantic models of task.toml and OpenEvolve's config.yaml: what ships loads, bad files get one line
naming the file and the key, and no input makes them raise anything but `UsageError`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selftaught.errors import UsageError
from selftaught.tasks import load_task, new_task
from selftaught.tasks.catalog import BUILTIN_DIR, BUILTIN_NAMES, task_info
from selftaught.tasks.filemodels import (
    DEFAULT_THRESHOLDS,
    OpenEvolveConfig,
    TaskFile,
    check,
    load_openevolve_config,
    load_task_file,
)
from selftaught.tasks.openevolve_directory import load_openevolve_task

ROOT = Path(__file__).resolve().parents[2]
TASK_TOMLS = sorted(BUILTIN_DIR.glob("*/task.toml")) + sorted(BUILTIN_DIR.glob("*/paper/task.toml"))
EXAMPLE_CONFIGS = sorted((ROOT / "examples").glob("*/config.yaml"))
VALID: dict[str, Any] = {
    "name": "demo",
    "description": "a demo",
    "entry_point": "algorithm",
    "signature": "def algorithm(x)",
    "instance_timeout": 0.5,
    "failure_value": 0.0,
    "instances": {"val": 2, "test": 3},
}


def test_every_builtin_task_toml_loads_and_the_listing_agrees() -> None:
    assert len(TASK_TOMLS) >= len(BUILTIN_NAMES) + 6  # the paper's six have a paper/ copy
    for path in TASK_TOMLS:
        model = load_task_file(path)
        assert model.protocol == ("paper" if path.parent.name == "paper" else "strict"), path
        info = task_info(path.parent)  # what `selftaught tasks` shows, read without pydantic
        assert (info.name, info.description, info.instance_timeout, info.failure_value) == (
            model.name,
            model.description,
            model.instance_timeout,
            model.failure_value,
        ), path
        assert info.n_instances == {"val": model.instances.val, "test": model.instances.test}, path


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_tasks_load_through_the_model(name: str) -> None:
    task = load_task(name)
    model = load_task_file(BUILTIN_DIR / name / "task.toml")
    assert (task.name, task.instance_timeout, task.n_instances["test"]) == (
        model.name,
        model.instance_timeout,
        model.instances.test,
    )


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: p.parent.name)
def test_every_example_config_yaml_loads(path: Path) -> None:
    config, _ = load_openevolve_config(path, path.read_text())
    task = load_openevolve_task(f"openevolve:{path.parent}")
    assert (task.config.timeout, task.thresholds) == (
        config.evaluator.timeout,
        config.evaluator.cascade_thresholds,
    )
    written = yaml.safe_load(path.read_text())["evaluator"]  # the file's own values, not the defaults
    assert config.evaluator.timeout == written["timeout"]
    assert list(config.evaluator.cascade_thresholds) == written.get(
        "cascade_thresholds", list(DEFAULT_THRESHOLDS)
    )


def test_config_yaml_defaults_and_openevolve_keys_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    empty, ignored = load_openevolve_config(path, "# nothing\n")
    # OpenEvolve 0.4.1's defaults (openevolve/config.py: EvaluatorConfig, DatabaseConfig)
    assert (empty.evaluator.timeout, empty.evaluator.cascade_thresholds) == (300.0, DEFAULT_THRESHOLDS)
    assert empty.evaluator.cascade_evaluation is True and empty.evaluator.evaluator_args is None
    assert empty.database.feature_dimensions == ("complexity", "diversity") and ignored == []
    full, ignored = load_openevolve_config(
        path,
        "max_iterations: 100\nllm:\n  models: [{name: m}]\ndatabase: {num_islands: 3}\n"
        "evaluator:\n  timeout: 7\n  parallel_evaluations: 4\n  cascade_evaluation: false\n",
    )
    assert (full.evaluator.timeout, full.evaluator.cascade_thresholds) == (7.0, DEFAULT_THRESHOLDS)
    assert full.evaluator.cascade_evaluation is False
    assert ignored == ["max_iterations", "llm", "evaluator.parallel_evaluations", "database.num_islands"]
    assert load_openevolve_config(path, "evaluator:\n")[0].evaluator.timeout == 300.0


@pytest.mark.parametrize(
    ("text", "ignored"),
    [
        # keys OpenEvolve drops or that are the evaluator's own sections: listed, never refused
        ("novelty: {a: 1}\nalgotune: {num_trials: 5}\n", ["novelty", "algotune"]),
        ("evaluator:\n  max_retries: 3\n", ["evaluator.max_retries"]),
        (
            "evaluator:\n  cascade_evaluatoin: false\n",
            ["evaluator.cascade_evaluatoin (did you mean 'cascade_evaluation'?)"],
        ),
        ("evalutor:\n  timeout: 5\n", ["evalutor (did you mean 'evaluator'?)"]),
        ("evaluator:\n  timout: 5\n", ["evaluator.timout (did you mean 'timeout'?)"]),
        (
            "database:\n  feature_dimension: [a]\n",
            ["database.feature_dimension (did you mean 'feature_dimensions'?)"],
        ),
        # a key OpenEvolve knows is not a typo of one selftaught reads, however close
        ("database:\n  feature_bins: 10\n", ["database.feature_bins"]),
        ("1: 2\n", ["1"]),
    ],
)
def test_ignored_config_yaml_keys_are_listed_with_near_misses(
    tmp_path: Path, text: str, ignored: list[str]
) -> None:
    assert load_openevolve_config(tmp_path / "config.yaml", text)[1] == ignored


def test_evaluator_settings_selftaught_reads(tmp_path: Path) -> None:
    config, _ = load_openevolve_config(
        tmp_path / "config.yaml",
        "evaluator:\n  evaluator_args: {size: 3, mode: fast}\n"
        "database:\n  feature_dimensions: [score, length]\n",
    )
    assert config.evaluator.evaluator_args == {"size": 3, "mode": "fast"}
    assert config.database.feature_dimensions == ("score", "length")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"instance_timout": 1}, "unknown key 'instance_timout' (did you mean 'instance_timeout'?)"),
        ({"colour": 1}, "unknown key 'colour' (allowed: name, description,"),
        (
            {"instances": {"val": 2, "tset": 3}},
            "unknown key 'instances.tset' (did you mean 'instances.test'?)",
        ),
        (
            {"protocol": "papr"},
            "'protocol' must be one of 'strict', 'paper', got 'papr' (did you mean 'paper'?)",
        ),
        ({"instance_timeout": "fast"}, "'instance_timeout' must be a number, got str"),
        ({"instance_timeout": 601}, "'instance_timeout' must be in (0, 600] seconds, got 601"),
        ({"failure_value": float("nan")}, "'failure_value' must be in [0, 1]"),
        ({"instances": {"val": 2, "test": 2.0}}, "'instances.test' must be an integer, got float"),
        ({"description": "two\nlines"}, "'description' must be one line"),
        ({"name": None}, "'name' must be a string, got null"),
    ],
)
def test_bad_task_toml_values_name_file_and_key(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(UsageError) as info:
        check(TaskFile, {**VALID, **change}, "here/task.toml")
    message = str(info.value)
    assert message.startswith("here/task.toml: ") and expected in message and "\n" not in message, message
    assert "Input should" not in message  # never pydantic's own words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "evaluator:\n  cascade_evaluation: 1\n",
            "'evaluator.cascade_evaluation' must be true or false, got int",
        ),
        (
            "evaluator:\n  evaluator_args: [1]\n",
            "'evaluator.evaluator_args' must be a table of keyword arguments",
        ),
        ("evaluator:\n  evaluator_args: {1: 2}\n", "keys must be Python identifiers, got 1"),
        (
            "database:\n  feature_dimensions: score\n",
            "'database.feature_dimensions' must be a list of metric names",
        ),
        (
            "database:\n  feature_dimensions: [1]\n",
            "'database.feature_dimensions[0]' must be a string, got int",
        ),
        ("database: [1]\n", "'database' must be a table, got list"),
        ("evaluator:\n  timeout: true\n", "'evaluator.timeout' must be a number, got bool"),
        (
            "evaluator:\n  timeout: 4000\n",
            "'evaluator.timeout' must be a number of seconds in (0, 3600], got 4000",
        ),
        ("evaluator: 5\n", "'evaluator' must be a table, got int"),
        (
            "evaluator:\n  cascade_thresholds: [0.5, x]\n",
            "'evaluator.cascade_thresholds[1]' must be a number, got str",
        ),
        (
            "evaluator:\n  cascade_thresholds: [.nan]\n",
            "'evaluator.cascade_thresholds' must be a list of finite",
        ),
        ("- evaluator\n", "must be a mapping, got list"),
    ],
)
def test_bad_config_yaml_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.yaml"
    with pytest.raises(UsageError) as info:
        load_openevolve_config(path, text)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message, message
    assert "Input should" not in message


@pytest.mark.slow  # end to end: the CLI in a subprocess
def test_cli_reports_a_bad_task_toml_in_one_line_exit_2(tmp_path: Path) -> None:
    directory = new_task("demo", tmp_path)
    toml = directory / "task.toml"
    toml.write_text(toml.read_text().replace("instance_timeout", "instance_timout"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "selftaught", "eval", str(directory), str(directory / "seed.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert str(toml) in lines[0] and "'instance_timout' (did you mean 'instance_timeout'?)" in lines[0]


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.dates(),
    st.datetimes(),
    st.times(),
)
_KEYS = st.one_of(
    st.sampled_from([*VALID, "protocol", "val", "test", "evaluator", "timeout"]), st.text(max_size=10)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)
_TOML_DICTS = st.dictionaries(_KEYS, _VALUES, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TOML_DICTS, st.booleans())
def test_any_toml_dict_is_a_task_file_or_one_usage_error(data: dict[str, Any], near_valid: bool) -> None:
    data = {**VALID, **data} if near_valid else data  # near-valid dicts reach the range checks
    try:
        model = check(TaskFile, data, "task.toml")
    except UsageError as exc:
        assert str(exc).startswith("task.toml: ") and "\n" not in str(exc)
        return
    assert 0 < model.instance_timeout <= 600 and 0 <= model.failure_value <= 1
    assert model.entry_point.isidentifier() and model.protocol in ("strict", "paper")


_YAML_KEYS = st.one_of(_KEYS, st.integers(), st.none(), st.booleans())
_YAML_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_YAML_KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(st.dictionaries(_YAML_KEYS, _YAML_VALUES, max_size=6), _YAML_VALUES),
    st.dictionaries(_KEYS, _YAML_VALUES, max_size=4),
)
def test_any_yaml_value_is_a_config_or_one_usage_error(data: Any, evaluator: dict[str, Any]) -> None:
    for candidate in (data, {"evaluator": evaluator}):
        try:
            config = check(OpenEvolveConfig, candidate, "config.yaml")
        except UsageError as exc:
            assert str(exc).startswith("config.yaml: ") and "\n" not in str(exc)
            continue
        assert 0 < config.evaluator.timeout <= 3600 and isinstance(config.evaluator.cascade_thresholds, tuple)
