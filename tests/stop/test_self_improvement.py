"""End-to-end STOP on the offline model: runs, lineage, fallback, hostile improvers, determinism, resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import selftaught
from selftaught.improvers import load_improver
from selftaught.store.db import sha256

from .conftest import SMALL, cli, cli_json

pytestmark = pytest.mark.slow  # end to end: whole runs on the offline model in the real sandbox

FLAGS = [
    "--task",
    SMALL["task"],
    "--tests",
    str(SMALL["tests"]),
    "--lm-calls",
    str(SMALL["lm_calls"]),
    "--responses-per-call",
    str(SMALL["responses_per_call"]),
    "--utility-budget",
    str(SMALL["utility_budget"]),
    "--test-seed",
    str(SMALL["test_seed"]),
]
RUN_FLAGS = [*FLAGS, "--estimate-tests", str(SMALL["tests"])]  # iterations estimated like candidates


def _iterations(store_path: Path) -> list[tuple]:
    with sqlite3.connect(store_path) as db:
        return db.execute(
            "SELECT t, improver_sha, parent_sha, status, meta_utility_val, meta_utility_test FROM iterations ORDER BY t"
        ).fetchall()


def test_run_two_iterations_stores_lineage_matching_the_contract(tmp_path: Path) -> None:
    out = cli_json("run", *RUN_FLAGS, "--iterations", "2", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert set(out) >= {"run_id", "iterations"}
    assert [it["t"] for it in out["iterations"]] == [0, 1, 2]
    for it in out["iterations"]:
        assert set(it) >= {"t", "meta_utility_val", "meta_utility_test", "improver_sha"}
        assert 0.0 <= it["meta_utility_val"] <= 1.0 and 0.0 <= it["meta_utility_test"] <= 1.0
    run_dir = tmp_path / "runs" / out["run_id"]
    rows = _iterations(run_dir / "run.sqlite")
    assert [row[0] for row in rows] == [0, 1, 2]
    # t=0 is the paper's seed improver, stored unchanged; each later iteration names its parent.
    assert rows[0][1] == sha256(load_improver("seed"))
    assert rows[1][2] == rows[0][1] and rows[2][2] == rows[1][1]
    for t, sha, *_ in rows:
        copy = run_dir / "improvers" / f"t{t}_{sha[:8]}.py"
        assert sha256(copy.read_text()) == sha
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM lm_calls").fetchone()[0] > 0
        assert db.execute("SELECT COUNT(*) FROM improver_runs").fetchone()[0] >= 2 * SMALL["tests"]
        status = db.execute("SELECT value FROM meta WHERE key='status'").fetchone()[0]
    assert status == '"completed"'
    listed = cli_json("runs", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert listed[0]["run_id"] == out["run_id"] and listed[0]["status"] == "completed"


@pytest.mark.long  # two whole runs
def test_same_seed_gives_the_same_run(tmp_path: Path) -> None:
    first = cli_json("run", *RUN_FLAGS, "--iterations", "1", "--runs-dir", str(tmp_path / "a"), cwd=tmp_path)
    second = cli_json("run", *RUN_FLAGS, "--iterations", "1", "--runs-dir", str(tmp_path / "b"), cwd=tmp_path)

    def strip(out: dict) -> list[tuple]:
        return [
            (it["t"], it["improver_sha"], it["meta_utility_val"], it["meta_utility_test"])
            for it in out["iterations"]
        ]

    assert strip(first) == strip(second)
    other_seed = cli_json(
        "run", *RUN_FLAGS, "--iterations", "1", "--seed", "5", "--runs-dir", str(tmp_path / "c"), cwd=tmp_path
    )
    assert strip(other_seed) != strip(first)


CRASH_ON_SELF = """
from helpers import extract_code

def improve_algorithm(initial_solution, utility, language_model):
    if "def improve_algorithm" in initial_solution:
        raise RuntimeError("this improver cannot improve improvers")
    responses = language_model.batch_prompt("expert", ["Improve:\\n```python\\n" + initial_solution + "\\n```"], 0.7)
    return max(extract_code(responses) + [initial_solution], key=utility)
"""


def test_failed_iteration_keeps_the_previous_improver(tmp_path: Path, small_settings) -> None:
    improver = tmp_path / "crash_on_self.py"
    improver.write_text(CRASH_ON_SELF)
    [result] = selftaught.self_improve(
        small_settings.model_copy(update={"improver": str(improver), "iterations": 1})
    )
    t0, t1 = result.iterations
    assert t1.status == "kept" and t1.improver_sha == t0.improver_sha
    assert "cannot improve improvers" in (t1.note or "")
    assert t1.meta_utility_val == t0.meta_utility_val


HOSTILE = """
import os

def improve_algorithm(initial_solution, utility, language_model):
    findings = []
    try:
        language_model.budget = 10_000
    except Exception as exc:
        findings.append("budget-set-failed")
    try:
        bigger = type(language_model)(budget=10_000)
        findings.append("constructed")
    except Exception:
        findings.append("construct-failed")
    findings.append(os.environ.get("OPENAI_API_KEY", "no-key"))
    for path in ("/proc/1/environ", os.path.expanduser("~/.bashrc")):
        try:
            findings.append(open(path).read()[:50])
        except Exception:
            findings.append("read-failed")
    scores = [utility(initial_solution) for _ in range(9)]
    calls = 0
    for _ in range(5):  # the budget attribute above was rewritten locally: the host must not care
        try:
            language_model.prompt("x", "```python\\n" + initial_solution + "\\n```")
            calls += 1
        except Exception:
            findings.append("over-budget")
    if "spin" in initial_solution:
        while True:
            pass
    return initial_solution + "\\n# " + repr(findings) + " " + repr(scores[-3:]) + " calls=" + str(calls)
"""


def test_hostile_improver_is_contained_and_recorded(tmp_path: Path, small_settings, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-should-never-leak")
    improver = tmp_path / "hostile.py"
    improver.write_text(HOSTILE)
    events: list[tuple[str, str]] = []
    result = selftaught.improve("str_grid_dist", improver=str(improver), settings=small_settings)
    events = result.events
    program = result.program
    assert "sk-host-secret" not in program
    assert "no-key" in program  # the sandbox has an empty environment
    assert "constructed" not in program
    # utility past its budget returns 0; the LM refuses past its budget: the host counted exactly.
    assert program.count("over-budget") == 3
    assert "calls=2" in program
    assert result.lm_calls == SMALL["lm_calls"]
    assert result.utility_calls == 9
    kinds = {kind for kind, _ in events}
    assert "utility-budget-exceeded" in kinds
    assert "lm-budget-exceeded" in kinds
    assert any("attribute" in kind or "construct" in kind for kind in kinds), kinds


def test_spinning_improver_times_out_and_the_run_goes_on(tmp_path: Path, small_settings) -> None:
    improver = tmp_path / "hostile.py"
    improver.write_text(HOSTILE)
    result = selftaught.improve(
        "str_grid_dist",
        improver=str(improver),
        program="def algorithm(t, dist):\n    return t  # spin\n",
        settings=small_settings.model_copy(update={"improver_timeout": 3.0}),
    )
    assert result.error == "timeout"
    assert result.program.startswith("def algorithm")  # the original program is kept
    assert any(kind == "improver-timeout" for kind, _ in result.events)


DEEP_ON_SELF = (
    "DEEP = 'def improve_algorithm(initial_solution, utility, language_model):\\n    x = ' + '+'.join(['1'] * 5000)"
    " + '\\n    return initial_solution\\n'\n"
    "\n"
    "def improve_algorithm(initial_solution, utility, language_model):\n"
    "    if 'def improve_algorithm' in initial_solution:\n"
    "        return DEEP\n"
    "    return initial_solution\n"
)


def test_an_improver_too_deep_to_parse_is_a_recorded_failure_and_resume_goes_on(tmp_path: Path) -> None:
    """An improver whose improved improver is a flat 5,000-term sum (ast.parse raises RecursionError):
    the iteration is recorded as kept with the reason, the run completes, and a resume extends it."""
    improver = tmp_path / "deep_on_self.py"
    improver.write_text(DEEP_ON_SELF)
    runs = str(tmp_path / "runs")
    first = cli_json(
        "run", *RUN_FLAGS, "--iterations", "1", "--improver", str(improver), "--runs-dir", runs, cwd=tmp_path
    )
    assert first["status"] == "completed"
    t0, t1 = first["iterations"]
    assert t1["status"] == "kept" and t1["improver_sha"] == t0["improver_sha"]
    assert "nested too deeply" in (t1["note"] or "")
    resumed = cli_json(
        "run", "--resume", first["run_id"], "--iterations", "2", "--runs-dir", runs, cwd=tmp_path
    )
    assert resumed["status"] == "completed" and [it["t"] for it in resumed["iterations"]] == [0, 1, 2]
    assert "nested too deeply" in (resumed["iterations"][2]["note"] or "")


@pytest.mark.long  # two whole runs
def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    reference = cli_json(
        "run", *RUN_FLAGS, "--iterations", "2", "--runs-dir", str(tmp_path / "ref"), cwd=tmp_path
    )
    runs_dir = tmp_path / "killed"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "selftaught",
            "run",
            *RUN_FLAGS,
            "--iterations",
            "2",
            "--runs-dir",
            str(runs_dir),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Kill once the first improved iteration's work has started being recorded.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stores = list(runs_dir.glob("*/run.sqlite"))
        if stores:
            with sqlite3.connect(stores[0], timeout=5) as db:
                try:
                    n = db.execute(
                        "SELECT COUNT(*) FROM improver_runs WHERE context_kind = 'candidates' AND context_t = 1"
                    ).fetchone()[0]
                except sqlite3.OperationalError:
                    n = 0
            if n >= 1:
                break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    [store] = list(runs_dir.glob("*/run.sqlite"))
    assert len(_iterations(store)) < 3, "the run finished before it could be killed"
    run_id = store.parent.name
    resumed = cli_json("run", "--resume", run_id, "--runs-dir", str(runs_dir), cwd=tmp_path)
    assert resumed["run_id"] == run_id

    def strip(out: dict) -> list[tuple]:
        return [
            (it["t"], it["improver_sha"], it["meta_utility_val"], it["meta_utility_test"])
            for it in out["iterations"]
        ]

    assert strip(resumed) == strip(reference)


def test_resume_of_unknown_run_is_a_usage_error(tmp_path: Path) -> None:
    done = cli("run", "--resume", "nope", "--runs-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error:") and "Traceback" not in done.stderr


def test_bad_settings_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "selftaught.toml").write_text("[selftaught]\ntests = 0\n")
    done = cli("run", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert done.returncode == 2 and "tests" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("improver", ["seed"])
def test_meta_eval_reports_val_and_test(tmp_path: Path, improver: str) -> None:
    out = cli_json("meta-eval", improver, *FLAGS, cwd=tmp_path)
    assert 0.0 <= out["meta_utility"] <= 1.0
    assert len(out["per_test"]) == SMALL["tests"]
    assert out["lm_calls"] >= SMALL["tests"]


COUNTING = """
def improve_algorithm(initial_solution, utility, language_model):
    before = utility.uses
    for _ in range(3):
        utility(initial_solution)
    return initial_solution + "\\n# uses %d -> %d budget %d" % (before, utility.uses, utility.budget)
"""


def test_utility_uses_is_read_live_from_the_host(tmp_path: Path, small_settings) -> None:
    improver = tmp_path / "counting.py"
    improver.write_text(COUNTING)
    result = selftaught.improve("str_grid_dist", improver=str(improver), settings=small_settings)
    assert result.program.endswith(f"# uses 0 -> 3 budget {SMALL['utility_budget']}")
