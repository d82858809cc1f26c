"""`selftaught tasks | eval | new-task` as a user runs them (a real process, a real sandbox)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.tasks import BUILTIN_NAMES

from .conftest import PROGRAMS

# End to end: the CLI in a subprocess, the real sandbox (the listing and the refusals need neither).
SLOW = pytest.mark.slow

SELFTAUGHT = Path(sys.executable).parent / "selftaught"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script in a fresh process, as a user runs it."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [str(SELFTAUGHT), *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env, check=False
    )


def run_here(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The same entry point (`selftaught.cli.main`) in this process: quicker for the many error cases."""
    from selftaught.cli import main

    saved = sys.argv
    sys.argv = ["selftaught", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = saved
    out, err = capfd.readouterr()
    return code, out, err


def test_tasks_lists_the_six_with_descriptions(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    listed = json.loads(run_here(capfd, "tasks", "--json")[1])
    assert [item["name"] for item in listed] == list(BUILTIN_NAMES)
    assert all(item["description"] and item["instances"]["val"] > 0 for item in listed)
    table = run_here(capfd, "tasks")[1]
    assert all(name in table for name in BUILTIN_NAMES)


@SLOW
def test_eval_json_and_verbose() -> None:
    done = run("eval", "str_grid_dist", str(PROGRAMS / "grid_exact.py"), "--json", "--verbose")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["task"], data["split"], data["utility"], data["instances"], data["failures"]) == (
        "str_grid_dist",
        "val",
        1.0,
        50,
        0,
    )
    assert len(data["per_instance"]) == 50 and data["per_instance"][0]["error"] is None


@SLOW
def test_eval_test_split_draws_a_fresh_seed_unless_given(capfd: pytest.CaptureFixture[str]) -> None:
    program = str(PROGRAMS / "grid_exact.py")
    assert "per_instance" not in json.loads(run_here(capfd, "eval", "str_grid_dist", program, "--json")[1])
    runs = [
        json.loads(run_here(capfd, "eval", "str_grid_dist", program, "--split", "test", "--json")[1])
        for _ in range(2)
    ]
    assert runs[0]["seed"] != runs[1]["seed"]
    fixed = json.loads(
        run_here(capfd, "eval", "str_grid_dist", program, "--split", "test", "--test-seed", "7", "--json")[1]
    )
    assert fixed["seed"] == 7 and fixed["split"] == "test"


@SLOW
def test_eval_rich_summary_names_failures(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    flaky = tmp_path / "flaky.py"
    flaky.write_text(
        "def algorithm(t, dist):\n    if len(t) % 2:\n        raise ValueError('odd')\n    return t\n"
    )
    code, out, err = run_here(capfd, "eval", "str_grid_dist", str(flaky))
    assert code == 0, err
    assert "str_grid_dist" in out and "failed" in out
    assert "ValueError" in out and "more failed instances (use --verbose)" in out


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, (), "does not exist"),
        (b"def algorithm(t, dist)\n    return t\n", (), "syntax error at line 1"),
        (b"def solve(t, dist):\n    return t\n", (), "does not define a top-level function 'algorithm'"),
        (b"# \xff\xfe\ndef algorithm(t, dist):\n    return t\n", (), "is not UTF-8"),
        (b"", (), "the program is empty"),
        (
            b"def algorithm(t, dist):\n    return t\n",
            ("--split", "train"),
            "--split must be one of val, test",
        ),
        (
            b"def algorithm(t, dist):\n    return t\n",
            ("--test-seed", "3"),
            "--test-seed only applies with --split test",
        ),
        (
            b"def algorithm(t, dist):\n    return t\n",
            ("--sandbox", "none"),
            "--sandbox must be one of strong, weak",
        ),
    ],
)
def test_eval_bad_input_is_one_line_and_exit_2(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    content: bytes | None,
    extra: tuple[str, ...],
    message: str,
) -> None:
    program = tmp_path / "program.py"
    if content is not None:
        program.write_bytes(content)
    code, out, err = run_here(capfd, "eval", "str_grid_dist", str(program), *extra)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


@SLOW
def test_eval_unknown_task_is_exit_2_in_a_real_process() -> None:
    done = run("eval", "no_such_task", str(PROGRAMS / "grid_exact.py"))
    assert done.returncode == 2 and "unknown task 'no_such_task'" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


@SLOW
def test_new_task_then_eval_works_immediately(tmp_path: Path) -> None:
    created = run("new-task", "my_problem", "--dir", str(tmp_path), "--json")
    assert created.returncode == 0, created.stderr
    directory = Path(json.loads(created.stdout)["directory"])
    assert sorted(p.name for p in directory.iterdir()) == ["scorer.py", "seed.py", "task.toml", "utility.py"]
    done = run("eval", str(directory), str(directory / "seed.py"), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (
        data["task"] == "my_problem" and data["failures"] == 0 and 0.05 < data["utility"] < 0.4
    )  # the greedy seed


def test_new_task_refuses_an_existing_directory(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert run_here(capfd, "new-task", "mine", "--dir", str(tmp_path))[0] == 0
    code, _out, err = run_here(capfd, "new-task", "mine", "--dir", str(tmp_path))
    assert code == 2 and "already exists" in err
