"""Task directories: the loader's one-line error for every malformed directory, and the scaffold."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from selftaught.errors import UsageError
from selftaught.tasks import BUILTIN_NAMES, VAL_SEED_BASE, load_task, load_task_directory, new_task


@pytest.fixture
def task_dir(tmp_path: Path) -> Path:
    return new_task("demo", tmp_path)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_scaffold_loads_and_its_example_scores(task_dir: Path) -> None:
    task = load_task(str(task_dir))
    assert (task.name, task.entry_point, task.n_instances) == ("demo", "algorithm", {"val": 20, "test": 50})
    instances = task.instances("val", VAL_SEED_BASE)
    numbers, target = instances[0].args
    assert len(numbers) == 30 and isinstance(target, int)
    everything = list(range(len(numbers)))  # all numbers: about twice the target
    assert 0.0 <= task.score(instances[0], everything) < 0.01
    assert task.judge(instances[0], [0, 0])[1] is not None
    assert task.judge(instances[0], [True])[1] is not None
    assert "def utility(" in task.utility_text()


def test_scaffold_refuses_bad_names_and_existing_directories(tmp_path: Path) -> None:
    for name in ("Bad", "1x", "with-dash", "", "a" * 65):
        with pytest.raises(UsageError, match="must match"):
            new_task(name, tmp_path)
    new_task("taken", tmp_path)
    with pytest.raises(UsageError, match="already exists"):
        new_task("taken", tmp_path)


BROKEN: list[tuple[str, Callable[[Path], None], str]] = [
    ("no task.toml", lambda d: (d / "task.toml").unlink(), "has no task.toml"),
    ("no seed.py", lambda d: (d / "seed.py").unlink(), "has no seed.py"),
    ("no utility.py", lambda d: (d / "utility.py").unlink(), "has no utility.py"),
    ("no scorer.py", lambda d: (d / "scorer.py").unlink(), "has no scorer.py"),
    ("bad toml", lambda d: _edit(d / "task.toml", 'name = "demo"', "name = demo"), "invalid TOML"),
    (
        "missing key",
        lambda d: _edit(d / "task.toml", 'entry_point = "algorithm"\n', ""),
        "missing key 'entry_point'",
    ),
    (
        "timeout type",
        lambda d: _edit(d / "task.toml", "instance_timeout = 0.5", 'instance_timeout = "fast"'),
        "'instance_timeout' must be a number, got str",
    ),
    (
        "bool timeout",
        lambda d: _edit(d / "task.toml", "instance_timeout = 0.5", "instance_timeout = true"),
        "'instance_timeout' must be a number, got bool",
    ),
    (
        "negative timeout",
        lambda d: _edit(d / "task.toml", "instance_timeout = 0.5", "instance_timeout = -1"),
        "'instance_timeout' must be in",
    ),
    (
        "failure range",
        lambda d: _edit(d / "task.toml", "failure_value = 0.0", "failure_value = 2"),
        "'failure_value' must be in [0, 1]",
    ),
    (
        "name type",
        lambda d: _edit(d / "task.toml", 'name = "demo"', "name = 3"),
        "'name' must be a string, got int",
    ),
    (
        "name pattern",
        lambda d: _edit(d / "task.toml", 'name = "demo"', 'name = "Demo Task"'),
        "'name' must match",
    ),
    (
        "entry point",
        lambda d: _edit(d / "task.toml", 'entry_point = "algorithm"', 'entry_point = "not valid"'),
        "'entry_point' must be a Python identifier",
    ),
    (
        "unknown key",
        lambda d: _edit(d / "task.toml", "[instances]", "colour = 1\n[instances]"),
        "unknown key 'colour'",
    ),
    (
        "instances type",
        lambda d: _edit(d / "task.toml", "[instances]\nval = 20", "instances = 3\n[other]\nval = 20"),
        "'instances' must be a table",
    ),
    ("missing split", lambda d: _edit(d / "task.toml", "val = 20", ""), "missing key 'instances.val'"),
    (
        "split type",
        lambda d: _edit(d / "task.toml", "test = 50", "test = 5.5"),
        "'instances.test' must be an integer, got float",
    ),
    ("split range", lambda d: _edit(d / "task.toml", "test = 50", "test = 0"), "'instances.test' must be in"),
    (
        "seed entry",
        lambda d: _edit(d / "seed.py", "def algorithm(", "def solve("),
        "seed.py: the program does not define a top-level function 'algorithm'",
    ),
    (
        "seed syntax",
        lambda d: (d / "seed.py").write_text("def algorithm(:\n"),
        "seed.py: syntax error at line 1",
    ),
    (
        "seed encoding",
        lambda d: (d / "seed.py").write_bytes(b"def algorithm():\n    return '\xff'\n"),
        "seed.py is not UTF-8",
    ),
    ("empty utility", lambda d: (d / "utility.py").write_text("  \n"), "utility.py is empty"),
    (
        "scorer import",
        lambda d: _edit(d / "scorer.py", "N_NUMBERS = 30", "N_NUMBERS = 1 / 0"),
        "scorer.py: failed to import (line 12): ZeroDivisionError",
    ),
    (
        "scorer syntax",
        lambda d: (d / "scorer.py").write_text("def score(:\n"),
        "failed to import (line 1): SyntaxError",
    ),
    (
        "missing score",
        lambda d: _edit(d / "scorer.py", "def score(", "def scored("),
        "missing function score()",
    ),
    (
        "missing instances",
        lambda d: _edit(d / "scorer.py", "def instances(", "def make("),
        "missing function instances()",
    ),
    (
        "score not callable",
        lambda d: (d / "scorer.py").open("a").write("\nscore = 3\n"),
        "score must be a function, got int",
    ),
    (
        "score arity",
        lambda d: _edit(d / "scorer.py", "def score(instance, output)", "def score(instance)"),
        "score() must take (instance, output)",
    ),
    (
        "instances arity",
        lambda d: _edit(d / "scorer.py", "def instances(split, seed, count)", "def instances(split)"),
        "instances() must take (split, seed)",
    ),
]


@pytest.mark.parametrize(("label", "breakage", "message"), BROKEN, ids=[case[0] for case in BROKEN])
def test_every_malformed_directory_gives_its_own_one_line_error(
    task_dir: Path, label: str, breakage: Callable[[Path], None], message: str
) -> None:
    breakage(task_dir)
    with pytest.raises(UsageError) as info:
        load_task_directory(task_dir)
    text = str(info.value)
    assert message in text, text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "def instances(split, seed, count):\n    return [([1], None)] * (count - 1)\n",
            "returned 19 instances; task.toml says val = 20",
        ),
        (
            "def instances(split, seed, count):\n    return [7] * count\n",
            "instance 0 must be an Instance or an (args, hidden) pair",
        ),
        (
            "def instances(split, seed, count):\n    return [(5, None)] * count\n",
            "instance 0 args must be a list",
        ),
        ("def instances(split, seed, count):\n    raise KeyError('x')\n", "raised KeyError"),
    ],
)
def test_scorer_mistakes_in_instances_are_one_line_errors(task_dir: Path, body: str, message: str) -> None:
    scorer = task_dir / "scorer.py"
    text = scorer.read_text()
    start = text.index("def instances(")
    end = text.index("def _instance(")
    scorer.write_text(text[:start] + body + "\n\n" + text[end:])
    task = load_task_directory(task_dir)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        task.instances("val", VAL_SEED_BASE)


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "float('nan')", "True", "'high'"])
def test_a_scorer_returning_an_out_of_range_score_is_a_task_bug(task_dir: Path, bad: str) -> None:
    (task_dir / "scorer.py").open("a").write(f"\n\ndef score(instance, output):\n    return {bad}\n")
    task = load_task_directory(task_dir)
    with pytest.raises(UsageError, match="score\\(\\) returned"):
        task.score(task.instances("val", VAL_SEED_BASE)[0], [0])


def test_a_scorer_that_raises_on_odd_output_gives_the_failure_value(task_dir: Path) -> None:
    (task_dir / "scorer.py").open("a").write("\n\ndef score(instance, output):\n    return output['x']\n")
    task = load_task_directory(task_dir)
    score, reason = task.judge(task.instances("val", VAL_SEED_BASE)[0], [1, 2])
    assert score == task.failure_value and reason is not None and "TypeError" in reason


def test_two_parameter_instances_and_plain_pairs_are_accepted(task_dir: Path) -> None:
    _edit(task_dir / "task.toml", "val = 20", "val = 2")
    body = "def instances(split, seed):\n    return [([seed], {'label': 1}), ([seed + 1], None)]\n"
    scorer = task_dir / "scorer.py"
    text = scorer.read_text()
    scorer.write_text(
        text[: text.index("def instances(")] + body + "\n\n" + text[text.index("def _instance(") :]
    )
    task = load_task_directory(task_dir)
    instances = task.instances("val", 10)
    assert [inst.args for inst in instances] == [[10], [11]] and instances[0].hidden == {"label": 1}


def test_an_edited_scorer_is_reloaded(task_dir: Path) -> None:
    first = load_task_directory(task_dir)
    _edit(task_dir / "scorer.py", "N_NUMBERS = 30", "N_NUMBERS = 7")
    second = load_task_directory(task_dir)
    assert len(first.instances("val", 1)[0].args[0]) == 30
    assert len(second.instances("val", 1)[0].args[0]) == 7


def test_builtins_are_task_directories_that_load_from_a_copy(tmp_path: Path) -> None:
    for name in BUILTIN_NAMES:
        builtin = load_task(name)
        copy = tmp_path / name
        shutil.copytree(builtin.directory, copy, ignore=shutil.ignore_patterns("__pycache__"))
        loaded = load_task(str(copy))
        assert loaded.name == name and loaded.seed_algorithm == builtin.seed_algorithm
        a, b = builtin.instances("val", VAL_SEED_BASE)[0], loaded.instances("val", VAL_SEED_BASE)[0]
        for x, y in zip(a.args, b.args, strict=True):
            assert np.array_equal(np.asarray(x, dtype=object), np.asarray(y, dtype=object))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_task", "unknown task 'no_such_task': choose one of parity_noise"),
        ("./missing/dir", "task directory './missing/dir' does not exist"),
        ("openevolve:", "openevolve: needs a directory"),
    ],
)
def test_unknown_task_specs(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_task(spec)


def test_a_file_is_not_a_task_directory(tmp_path: Path) -> None:
    path = tmp_path / "task.py"
    path.write_text("x = 1\n")
    with pytest.raises(UsageError, match=r"does not exist or is not a directory"):
        load_task(str(path))


def test_a_scorer_error_quoting_a_huge_output_is_cut_to_one_short_line(task_dir: Path) -> None:
    (task_dir / "scorer.py").open("a").write("\n\ndef score(instance, output):\n    return int(output)\n")
    task = load_task_directory(task_dir)
    score, reason = task.judge(task.instances("val", VAL_SEED_BASE)[0], "x\n" * 100_000)
    assert score == task.failure_value and reason is not None
    assert "ValueError" in reason and "\n" not in reason and len(reason) <= 300


def test_an_edit_of_the_same_length_in_the_same_second_is_what_loads(
    task_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python validates a cached .pyc by the source's mtime and size only; a scorer edited to the same
    length within one second must still load as edited, and loading writes nothing into the task."""
    monkeypatch.setattr("sys.dont_write_bytecode", False)  # as on a machine that caches bytecode
    scorer = task_dir / "scorer.py"
    instance = load_task(str(task_dir)).instances("val", VAL_SEED_BASE)[0]
    stamp = scorer.stat().st_mtime_ns
    _edit(scorer, "def score(instance, output):\n", "def score(instance, output):\n    return 0.25\n")
    os.utime(scorer, ns=(stamp, stamp))
    assert load_task(str(task_dir)).score(instance, [0]) == 0.25
    _edit(scorer, "    return 0.25\n", "    return 0.75\n")  # same length, same mtime
    os.utime(scorer, ns=(stamp, stamp))
    assert load_task(str(task_dir)).score(instance, [0]) == 0.75
    assert not (task_dir / "__pycache__").exists()
