"""OpenEvolve tasks have no held-out split and take no seed, and say so; `improve --out` keeps the
file byte for byte outside the code that changed; `improve` says when it hands back a worse program."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selftaught.report.gain import Point, gain_line
from selftaught.tasks.openevolve_block import split_evolve_block

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "openevolve_minimize"
SRC = str(ROOT / "src")

FILE = "import math\n\n\n# EVOLVE-BLOCK-START\n{block}# EVOLVE-BLOCK-END\n\n\ndef after():\n    pass\n"


@given(
    lead=st.sampled_from(["", "\n", "\n\n"]),
    trail=st.sampled_from(["\n", "\n\n", "\n\n\n"]),
    reply_pad=st.sampled_from(["", "\n", "\n\n\n", "  \n"]),
    body=st.text(alphabet="abcxyz =+()1\n", min_size=1, max_size=40).filter(lambda t: t.strip()),
)
def test_splice_keeps_the_blank_lines_around_the_block(
    lead: str, trail: str, reply_pad: str, body: str
) -> None:
    original = FILE.format(block=f"{lead}def f():\n    return 1{trail}")
    program = split_evolve_block(original, where="test")
    assert program.splice(program.block) == original
    spliced = program.splice(reply_pad + body + reply_pad)
    assert spliced.startswith(program.prefix + lead) and spliced.endswith(trail + program.suffix)


def test_the_gain_line_of_an_openevolve_run_says_there_is_no_test_split() -> None:
    line = gain_line([Point(0, 0.5, 0.5), Point(1, 0.7, 0.7)], test_split=False)
    assert "no test split" in line and "test 0.5" not in line


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-m", "selftaught", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.slow
def test_eval_and_improve_on_an_openevolve_task(tmp_path: Path) -> None:
    task = f"openevolve:{EXAMPLE}"
    evaluated = _cli("eval", task, str(EXAMPLE / "initial_program.py"), cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "no seed" in evaluated.stdout and "seed 4321" not in evaluated.stdout
    refused = _cli("eval", task, str(EXAMPLE / "initial_program.py"), "--split", "test", cwd=tmp_path)
    assert refused.returncode == 2 and "no test split" in refused.stderr
    out = tmp_path / "improved.py"
    improved = _cli(
        "improve", task, "--lm-calls", "1", "--utility-budget", "2", "--out", str(out), cwd=tmp_path
    )
    assert improved.returncode == 0, improved.stderr
    assert "no test split" in improved.stderr and "(test " not in improved.stderr
    original = split_evolve_block((EXAMPLE / "initial_program.py").read_text(), where="original")
    written = out.read_text()
    assert written.startswith(original.prefix) and written.endswith("\n\n" + original.suffix)


@pytest.mark.slow
def test_improve_says_when_it_hands_back_a_worse_program(tmp_path: Path) -> None:
    (tmp_path / "worse.py").write_text(
        "def improve_algorithm(initial_solution, utility, language_model):\n"
        "    return 'def algorithm(*args, **kwargs):\\n    raise ValueError(\"broken\")\\n'\n"
    )
    done = _cli("improve", "str_grid_dist", "--improver", "worse.py", "--utility-budget", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "worse than the one given" in done.stderr
