"""Exit codes as documented (0 done, 1 failed, 2 bad usage or input, 130 Ctrl-C), for every command.

Each bad input must give exit code 2 and one line on stderr starting with `error:`, never a traceback
and never a class name such as `NoSuchOption` — with and without a separate click (the ray extra).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import HIDDEN_CASES, VENDORED_CLICK, cli

pytestmark = pytest.mark.slow  # end to end: the CLI in a subprocess

BAD_INPUT: dict[str, tuple[list[str], str]] = {
    "unknown command": (["nosuch"], "No such command"),
    "unknown option": (["run", "--iteratons", "2"], "--iterations"),
    "run: value out of range": (["run", "--tests", "0"], "--tests must be between 1 and 1000"),
    "run: not a number": (["run", "--tests", "many"], "--tests"),
    "run: bad choice": (["run", "--sandbox", "weke"], "did you mean 'weak'"),
    "run: --config DIR": (["run", "--config", "."], "is a directory"),
    "run: unknown resume": (["run", "--resume", "nope"], "no run 'nope'"),
    "run: improver does not parse": (["run", "--improver", "bad.py", "--runs-dir", "runs"], "syntax error"),
    "run: unknown task": (["run", "--task", "no_such_task", "--runs-dir", "runs"], "unknown task"),
    "runs: missing argument value": (["runs", "--runs-dir"], "requires an argument"),
    "improve: program does not parse": (["improve", "three_sat", "--program", "bad.py"], "syntax error"),
    "improve: unknown task": (["improve", "no_such_task"], "unknown task"),
    "improve: improver typo": (
        ["improve", "three_sat", "--improver", "gredy"],
        "--improver: unknown improver 'gredy' (did you mean 'greedy'?)",
    ),
    "improve: task typo": (["improve", "threesat"], "did you mean 'three_sat'"),
    "meta-eval: unknown improver": (["meta-eval", "nosuch"], "unknown improver"),
    "meta-eval: improver does not parse": (["meta-eval", "bad.py"], "syntax error"),
    "transfer: unknown run": (["transfer", "nope"], "no run 'nope'"),
    "tasks: unknown option": (["tasks", "--bogus"], "No such option"),
    "eval: program does not parse": (["eval", "maxcut", "bad.py"], "syntax error"),
    "eval: bad split": (["eval", "maxcut", "bad.py", "--split", "tset"], "did you mean 'test'"),
    "new-task: shadows a built-in": (["new-task", "maxcut"], "built-in task"),
    "new-task: bad name": (["new-task", "Bad-Name"], "must match"),
    "doctor: bad sandbox": (["doctor", "--sandbox", "none"], "--sandbox must be one of strong, weak"),
    "report: unknown run": (["report", "nope"], "no run or group 'nope'"),
    "compare: one id": (["compare", "a"], "at least two"),
    "safety audit: unknown run": (["safety", "audit", "nope"], "nope"),
    "safety sandbox-flag: attempts": (["safety", "sandbox-flag", "--attempts", "0"], "--attempts"),
    "safety flag-table: unknown run": (["safety", "flag-table", "nope"], "nope"),
    "missing argument": (["eval", "maxcut"], "Missing argument"),
}

CLASS_NAMES = (
    "NoSuchOption",
    "BadParameter",
    "MissingParameter",
    "UsageError",
    "NoArgsIsHelpError",
    "Traceback",
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "bad.py").write_text("def improve_algorithm(a, b, c):\n    return [\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("hide", HIDDEN_CASES, ids=["installed", "no-click-no-ray"][: len(HIDDEN_CASES)])
@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_exits_2_with_one_line(workdir: Path, case: str, hide: tuple[str, ...]) -> None:
    args, expected = BAD_INPUT[case]
    done = cli(*args, cwd=workdir, hide=hide)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert expected in lines[0]
    assert not any(name in done.stderr for name in CLASS_NAMES), done.stderr
    assert not (workdir / "runs").exists() or not any((workdir / "runs").iterdir())  # no half-made run


@pytest.mark.parametrize("hide", HIDDEN_CASES, ids=["installed", "no-click-no-ray"][: len(HIDDEN_CASES)])
def test_bare_command_and_groups_show_help_and_exit_0(tmp_path: Path, hide: tuple[str, ...]) -> None:
    for args in ([], ["--help"], ["safety"], ["run", "--help"]):
        done = cli(*args, cwd=tmp_path, hide=hide)
        assert done.returncode == 0, (args, done.stderr)
        assert done.stdout.startswith("Usage: selftaught"), done.stdout
        assert "error" not in done.stderr.lower()
    version = cli("--version", cwd=tmp_path, hide=hide)
    assert version.returncode == 0 and version.stdout.startswith("selftaught ")


def test_help_shows_the_defaults_of_the_one_table(tmp_path: Path) -> None:
    from selftaught.defaults import KNOBS

    text = " ".join(cli("run", "--help", cwd=tmp_path).stdout.split())
    for name in ("tests", "iterations", "utility_budget", "sandbox"):
        assert f"(default: {KNOBS[name].default_text()})" in text.split(KNOBS[name].flag, 1)[1][:400], name
    assert "One of: strong, weak." in text


def test_run_defaults_to_the_main_job_task_and_parity_noise_is_one_flag_away(tmp_path: Path) -> None:
    """The main job's task (where the offline model gains on test) is the default; the paper's headline
    task is named in `run --help`, and the paper protocol (no variant of the default) says what to pass."""
    from selftaught.config import Settings
    from selftaught.defaults import KNOBS

    assert KNOBS["task"].default == Settings().task == "circle_packing"
    assert KNOBS["responses_per_call"].default == 6 and KNOBS["lm_calls"].default == 4  # the paper's budgets
    assert KNOBS["utility_budget"].default == 25 and KNOBS["tests"].default == 5
    help_text = " ".join(cli("run", "--help", cwd=tmp_path).stdout.split())
    after = help_text.split("--task", 1)[1][:300]
    assert "(default: circle_packing)" in after and "parity_noise" in after
    paper = cli("run", "--protocol", "paper", "--runs-dir", "runs", cwd=tmp_path)
    assert paper.returncode == 2 and "--task parity_noise" in paper.stderr
    assert len(paper.stderr.strip().splitlines()) == 1 and "Traceback" not in paper.stderr


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    """`--help` must not import pydantic, numpy, openai, the sandbox or the STOP layer (start-up time)."""
    import subprocess
    import sys

    from .conftest import cli_env

    probe = (
        "import sys\n"
        "from selftaught.cli import run\n"
        "code = run(['--help']) + run(['run', '--help']) + run(['safety', 'audit', '--help'])\n"
        "heavy = ('pydantic', 'numpy', 'openai', 'selftaught.sandbox', 'selftaught.stop',\n"
        "         'selftaught.config', 'selftaught.executors', 'selftaught.lm', 'selftaught.report')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy or any(m.startswith(h + '.') or m == h for h in heavy))\n"
        "print('LOADED', code, ' '.join(loaded), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=cli_env()
    )
    line = next(row for row in done.stderr.splitlines() if row.startswith("LOADED"))
    assert line.split()[1] == "0"
    assert line.split()[2:] == [], line


def test_tasks_reads_no_scorer_or_sandbox(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import cli_env

    probe = (
        "import sys, io\n"
        "from selftaught.cli import run\n"
        "sys.stdout = io.StringIO()\n"
        "code = run(['tasks'])\n"
        "bad = [m for m in ('numpy', 'pydantic', 'selftaught.sandbox', 'selftaught.stop', 'selftaught.tasks.host_scored',\n"
        "                   'openai')\n"
        "       if m in sys.modules]\n"
        "print('LOADED', code, *bad, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=cli_env()
    )
    assert "LOADED 0" in done.stderr and done.stderr.strip().endswith("LOADED 0"), done.stderr


def test_tasks_and_json_exit_0_without_click(tmp_path: Path) -> None:
    import json

    plain = cli("tasks", cwd=tmp_path, hide=("click", "ray") if VENDORED_CLICK else ())
    assert plain.returncode == 0 and plain.stdout.splitlines()[0].split()[0] == "task"
    listed = json.loads(cli("tasks", "--json", cwd=tmp_path).stdout)
    names = [item["name"] for item in listed]
    assert names[:2] == ["parity_noise", "parity_noiseless"] and len(names) >= 6
    # What a score does not show is said where the tasks are listed (split not held out, not online).
    caveats = plain.stdout.split("\ncaveats:\n", 1)[1].splitlines()
    assert [line.split(":")[0].strip() for line in caveats] == ["circle_packing", "bin_packing"]
    assert "not held out" in caveats[0] and "validation is not online" in caveats[1]


@pytest.mark.parametrize("hide", HIDDEN_CASES, ids=["installed", "no-click-no-ray"][: len(HIDDEN_CASES)])
def test_an_unexpected_error_is_one_line_and_exit_1(tmp_path: Path, hide: tuple[str, ...]) -> None:
    """Our own bug (here: the report package cannot be imported) is one line, exit 1, no traceback."""
    done = cli("report", "some-run", cwd=tmp_path, hide=(*hide, "selftaught.report"))
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "SELFTAUGHT_DEBUG=1" in lines[0], (
        done.stderr
    )
    assert "Traceback" not in done.stderr
