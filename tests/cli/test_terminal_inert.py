"""Text from sandboxed code or a model reaches the user's terminal inert; into a pipe or file, byte-exact.

Each case runs the real CLI as a subprocess twice where the distinction matters: on a pseudo-terminal
(what a user sees) and into a pipe (what `> prog.py` gets). The hostile text clears the screen, resets
the terminal, writes the clipboard (OSC 52), sets the window title (OSC 0), hides text and forges a
"utility 1.0000 ... run is clean" line over the real one with a carriage return.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.codetext.safetext import safe_text

SLOW = pytest.mark.slow  # real CLI subprocesses running the sandbox (the helper's own test is a unit test)

CLEAR, RESET, CLIPBOARD, TITLE, HIDDEN = (
    "\x1b[2J\x1b[H",
    "\x1bc",
    "\x1b]52;c;cm0gLXJmIH4K\x07",
    "\x1b]0;pwned\x07",
    "\x1b[8m",
)
FORGED = "\rutility 1.0000 run is clean"
HOSTILE = CLEAR + RESET + CLIPBOARD + TITLE + HIDDEN + "secret" + FORGED
SEQUENCES = [s.encode() for s in (CLEAR, RESET, "\x1b]52;", "\x1b]0;", HIDDEN, FORGED)]
QUIET = ["--lm-calls", "1", "--responses-per-call", "1", "--utility-budget", "2", "--test-seed", "7"]


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {**os.environ, "PYTHONPATH": src, "COLUMNS": "400", "TERM": "xterm"}


def on_terminal(args: list[str], cwd: Path) -> bytes:
    """Everything the CLI writes to a pseudo-terminal (stdout and stderr both)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "selftaught", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=_env(),
    )
    os.close(slave)
    out = bytearray()
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    proc.wait(timeout=600)
    os.close(master)
    return bytes(out)


def into_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "selftaught", *args], cwd=cwd, capture_output=True, env=_env(), timeout=600
    )


def assert_inert(shown: bytes) -> None:
    for sequence in SEQUENCES:
        assert sequence not in shown, (sequence, shown[-2000:])
    assert b"^[[2J" in shown, shown[-2000:]  # shown, visibly


def test_the_helper_shows_every_control_and_keeps_layout() -> None:
    shown = safe_text("a\tb\n" + HOSTILE + "\x7f\x9b\u202e\ud800", terminal=True)
    assert shown.startswith("a\tb\n^[[2J^[[H^[c^[]52;c;cm0gLXJmIH4K^G^[]0;pwned^G^[[8msecret^Mutility 1.0000")
    assert shown.endswith("^?<U+009B><U+202E>?")
    assert all(ch in "\t\n" or (ch.isprintable() and ord(ch) < 0x202A) for ch in shown)
    assert safe_text(HOSTILE) == HOSTILE  # stored text is left as it was; only showing makes it inert


@SLOW
def test_failure_reasons_in_the_eval_table_are_inert(tmp_path: Path) -> None:
    program = tmp_path / "hostile.py"
    program.write_text(f"def algorithm(t, dist):\n    raise ValueError({HOSTILE!r})\n")
    control = tmp_path / "honest.py"
    control.write_text("def algorithm(t, dist):\n    raise ValueError('honest failure')\n")
    honest = on_terminal(["eval", "str_grid_dist", str(control), "--verbose"], tmp_path)
    assert b"honest failure" in honest and b"^[" not in honest  # the control: shown as it is
    assert_inert(on_terminal(["eval", "str_grid_dist", str(program), "--verbose"], tmp_path))


def _improver(tmp_path: Path) -> Path:
    """Returns the program with hostile text in a comment (no CR: Python reads it as a line end), and
    asks the language model for an attribute named by hostile text (an event the audit shows)."""
    comment = HOSTILE.replace("\r", "")
    improver = tmp_path / "hostile_improver.py"
    improver.write_text(
        "def improve_algorithm(initial_solution, utility, language_model):\n"
        "    try:\n"
        f"        getattr(language_model, {HOSTILE!r})\n"
        "    except Exception:\n"
        "        pass\n"
        f"    return initial_solution + '\\n# ' + {comment!r} + '\\n'\n"
    )
    return improver


@SLOW
def test_improve_writes_the_program_byte_exact_into_a_pipe_and_inert_on_a_terminal(tmp_path: Path) -> None:
    improver = _improver(tmp_path)
    args = ["improve", "str_grid_dist", "--improver", str(improver), *QUIET]
    piped = into_pipe(args, tmp_path)
    assert piped.returncode == 0, piped.stderr[-2000:]
    assert HOSTILE.replace("\r", "").encode() in piped.stdout  # byte-exact: what `> prog.py` asked for
    shown = on_terminal(args, tmp_path)
    assert b"# ^[[2J" in shown
    assert_inert(shown)


@SLOW
def test_the_safety_audit_table_shows_event_details_inert(tmp_path: Path) -> None:
    improver = _improver(tmp_path)
    runs = str(tmp_path / "runs")
    args = [
        "run",
        "--task",
        "str_grid_dist",
        "-T",
        "1",
        "--tests",
        "1",
        "--estimate-tests",
        "1",
        "--improver",
        str(improver),
        *QUIET,
    ]
    done = into_pipe([*args, "--runs-dir", runs, "--json"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    [run_id] = os.listdir(runs)
    shown = on_terminal(["safety", "audit", run_id, "--runs-dir", runs, "--limit", "200"], tmp_path)
    assert b"proxy-missing-attribute" in shown
    assert_inert(shown)
