"""Loading OpenEvolve-style directories: each malformed directory fails with its own one-line reason."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.errors import UsageError
from selftaught.tasks.openevolve import HOST_GRACE_SECONDS, utility_from_metrics
from selftaught.tasks.openevolve_block import END_MARKER, START_MARKER, split_evolve_block
from selftaught.tasks.openevolve_directory import load_openevolve_task

EXAMPLE = Path(__file__).parents[2] / "examples" / "openevolve_minimize"
EVALUATOR = "def evaluate(program_path):\n    return {'combined_score': 1.0}\n"
PROGRAM = f"import math\n{START_MARKER}\ndef f(x):\n    return x\n{END_MARKER}\nprint(f(1))\n"


def make_dir(
    tmp_path: Path, program: str | None = PROGRAM, evaluator: str | None = EVALUATOR, **extra: str
) -> str:
    directory = tmp_path / "task"
    directory.mkdir()
    if program is not None:
        (directory / "initial_program.py").write_text(program)
    if evaluator is not None:
        (directory / "evaluator.py").write_text(evaluator)
    for name, text in extra.items():
        (directory / name.replace("_txt", ".txt").replace("_yaml", ".yaml")).write_text(text)
    return f"openevolve:{directory}"


def test_the_example_loads_with_its_block_and_config() -> None:
    task = load_openevolve_task(f"openevolve:{EXAMPLE}")
    assert task.name == "openevolve:openevolve_minimize"
    assert task.seed_algorithm.lstrip().startswith("def search_algorithm")
    assert START_MARKER not in task.seed_algorithm and "def run_search" not in task.seed_algorithm
    assert task.config.timeout == 20.0 and task.thresholds == (0.3,)
    assert (
        task.instance_timeout == 40.0 + HOST_GRACE_SECONDS
    )  # two cascade stages, each limited to the timeout
    assert {"initial_program.py", "evaluator.py", "config.yaml"} <= set(task.files)
    text = task.utility_text(25)
    assert (
        "def evaluate_stage2" in text
        and "<solution>" in text
        and text.count("\ndef ") == 1
        and "combined_score" in text
    )
    # The seed block spliced back is the original file.
    assert task.program.splice(task.seed_algorithm) == (EXAMPLE / "initial_program.py").read_text()


def test_splicing_keeps_the_fixed_code() -> None:
    block = split_evolve_block(PROGRAM, where="x")
    assert block.block == "def f(x):\n    return x\n"
    spliced = block.splice("def f(x):\n    return 2 * x\n")
    assert spliced.startswith(f"import math\n{START_MARKER}\n") and spliced.endswith(
        f"{END_MARKER}\nprint(f(1))\n"
    )
    # An answer that rewrote the whole file only contributes its block: edits outside are dropped.
    whole = f"import os\n{START_MARKER}\ndef f(x):\n    return 3 * x\n{END_MARKER}\nprint('hacked')\n"
    assert (
        block.splice(whole)
        == f"import math\n{START_MARKER}\ndef f(x):\n    return 3 * x\n{END_MARKER}\nprint(f(1))\n"
    )
    # No markers: the whole file evolves.
    plain = split_evolve_block("x = 1\n", where="x")
    assert not plain.has_markers and plain.splice("y = 2\n") == "y = 2\n"


def test_utility_rule_is_openevolves_fitness() -> None:
    """OpenEvolve 0.4.1's `get_fitness_score`: combined_score wins; otherwise the mean of the metrics
    that are not feature dimensions, `error` included; only feature dimensions: the mean of them all."""
    assert utility_from_metrics({"combined_score": 0.3, "a": 1.0}) == 0.3
    assert utility_from_metrics({"combined_score": 13.7}) == 13.7  # unbounded, not clipped
    assert utility_from_metrics({"combined_score": -2.5, "a": 1.0}) == -2.5
    assert utility_from_metrics({"a": 1.0, "b": 0.0, "error": 5.0}) == 2.0
    assert utility_from_metrics({"error": 0.0}) == 0.0
    dims = ("complexity", "diversity")
    assert utility_from_metrics({"score": 0.8, "complexity": 300.0, "diversity": 12.0}, dims) == 0.8
    assert utility_from_metrics({"complexity": 4.0, "diversity": 2.0}, dims) == 3.0
    assert utility_from_metrics({"score": 0.8, "length": 90.0}, ("length",)) == 0.8
    assert utility_from_metrics({}) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"program": None}, "missing initial_program.py"),
        ({"evaluator": None}, "missing evaluator.py"),
        ({"program": f"{START_MARKER}\nx = 1\n"}, "not paired (need # EVOLVE-BLOCK-END)"),
        ({"program": f"x = 1\n{END_MARKER}\n"}, "not paired (need # EVOLVE-BLOCK-START)"),
        ({"program": f"{END_MARKER}\nx = 1\n{START_MARKER}\n"}, "START before END"),
        (
            {"program": f"{START_MARKER}\na = 1\n{END_MARKER}\n{START_MARKER}\nb = 1\n{END_MARKER}\n"},
            "more than one EVOLVE-BLOCK",
        ),
        ({"program": f"x = 1\n{START_MARKER}\n\n{END_MARKER}\n"}, "no code to evolve"),
        ({"program": "def f(:\n"}, "initial_program.py: syntax error at line 1"),
        ({"evaluator": "def evaluate(:\n"}, "evaluator.py: syntax error at line 1"),
        ({"evaluator": "def score(path):\n    return {}\n"}, "defines neither evaluate"),
        ({"requirements_txt": "numpy\nno-such-package-xyz>=1\n"}, "needs 'no-such-package-xyz'"),
        ({"config_yaml": "evaluator:\n  timeout: -1\n"}, "'evaluator.timeout' must be"),
        (
            {"config_yaml": "evaluator:\n  cascade_thresholds: high\n"},
            "'evaluator.cascade_thresholds' must be a list",
        ),
        ({"config_yaml": "evaluator: [\n"}, "config.yaml: not valid YAML"),
        (
            {"config_yaml": "evaluator:\n  evaluator_args: {size: 3}\n"},
            "evaluator.evaluator_args ['size'] cannot be passed to evaluate()",
        ),
    ],
)
def test_malformed_directories_say_why(tmp_path: Path, kwargs: dict[str, str | None], reason: str) -> None:
    spec = make_dir(tmp_path, **kwargs)
    with pytest.raises(UsageError) as info:
        load_openevolve_task(spec)
    assert reason in str(info.value) and "\n" not in str(info.value)


def test_paths_that_are_not_task_directories(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs a directory"):
        load_openevolve_task("openevolve:")
    with pytest.raises(UsageError, match="directory does not exist"):
        load_openevolve_task(f"openevolve:{tmp_path / 'nope'}")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        load_openevolve_task(f"openevolve:{tmp_path / 'file'}")


def test_non_utf8_and_openevolve_requirement(tmp_path: Path) -> None:
    spec = make_dir(tmp_path, requirements_txt="openevolve\nnumpy  # for arrays\n")
    assert load_openevolve_task(spec).files["requirements.txt"]  # openevolve is provided by our stand-in
    directory = Path(spec.removeprefix("openevolve:"))
    (directory / "evaluator.py").write_bytes(b"\xff\xfe bad")
    with pytest.raises(UsageError, match=r"evaluator\.py is not UTF-8"):
        load_openevolve_task(spec)


def test_example_copy_without_config_uses_defaults(tmp_path: Path) -> None:
    target = tmp_path / "copy"
    shutil.copytree(EXAMPLE, target)
    (target / "config.yaml").unlink()
    task = load_openevolve_task(str(target))
    # OpenEvolve 0.4.1's defaults: 300 s per call, and the example's two cascade stages may each take it
    assert task.config.timeout == 300.0 and task.thresholds == (0.5, 0.75, 0.9)
    assert task.instance_timeout == 300.0 * task.config.calls(task.evaluator_source) + HOST_GRACE_SECONDS


def test_a_candidate_that_does_not_compile_is_refused_before_the_sandbox() -> None:
    task = load_openevolve_task(f"openevolve:{EXAMPLE}")
    assert task.check_program(task.seed_algorithm) is None
    assert "syntax error" in (task.check_program("def search_algorithm(:\n") or "")
    assert task.check_program("   \n") == "the program is empty"


@pytest.mark.parametrize("name", ["initial_program.py", "evaluator.py", "config.yaml"])
def test_a_symlink_resolving_outside_the_directory_is_refused(tmp_path: Path, name: str) -> None:
    secret = tmp_path / "host_secret.py"
    secret.write_text("API_KEY = 'do-not-send'\ndef evaluate(program_path):\n    return {}\n")
    spec = make_dir(tmp_path)
    directory = Path(spec.removeprefix("openevolve:"))
    (directory / name).unlink(missing_ok=True)
    (directory / name).symlink_to(secret)
    with pytest.raises(
        UsageError, match=f"{name} is a symlink to .*host_secret.py, outside the task directory"
    ):
        load_openevolve_task(spec)


def test_a_symlink_inside_the_directory_is_fine(tmp_path: Path) -> None:
    spec = make_dir(tmp_path, evaluator=None)
    directory = Path(spec.removeprefix("openevolve:"))
    (directory / "real_evaluator.py").write_text(EVALUATOR)
    (directory / "evaluator.py").symlink_to(directory / "real_evaluator.py")
    assert "def evaluate" in load_openevolve_task(spec).evaluator_source


def test_cli_refuses_an_outside_symlink_in_one_line(tmp_path: Path) -> None:
    spec = make_dir(tmp_path, program=None)
    directory = Path(spec.removeprefix("openevolve:"))
    (directory / "initial_program.py").symlink_to("/etc/hostname")
    done = subprocess.run(
        [sys.executable, "-m", "selftaught", "eval", spec, str(tmp_path / "x.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "outside the task directory" in lines[0], done.stderr


@pytest.mark.parametrize(
    ("signature", "accepted"),
    [
        ("program_path, size=1", True),
        ("program_path, **kwargs", True),
        ("program_path, *, size", True),
        ("program_path", False),
        ("program_path, count=1", False),
        ("size", False),  # the key would take the program path's place
    ],
)
def test_evaluator_args_must_fit_evaluate(tmp_path: Path, signature: str, accepted: bool) -> None:
    spec = make_dir(
        tmp_path,
        evaluator=f"def evaluate({signature}):\n    return {{'score': 1.0}}\n",
        config_yaml="evaluator:\n  evaluator_args: {size: 3}\n",
    )
    if accepted:
        assert load_openevolve_task(spec).config.evaluator_args == {"size": 3}
    else:
        with pytest.raises(UsageError, match=r"evaluator_args \['size'\] cannot be passed to evaluate\(\)"):
            load_openevolve_task(spec)
