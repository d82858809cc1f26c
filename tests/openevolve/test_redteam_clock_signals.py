"""Red team on the evaluator's patched clocks: a signal handler that reads a clock.

Broke when written: `_selftaught_clock` guarded its state with a plain lock, and Python runs a signal
handler in the main thread between any two bytecodes, also inside that lock's block. An evaluator
whose alarm handler reads a clock (directly, or by logging: a log record takes `time.time()`) and fires
while its main thread is reading one hung for ever on its own lock, and the evaluation ran to its
deadline, a failure charged to the candidate (whose calls' length decides when the evaluator's alarm
fires). The lock is now reentrant (the handler reads the clock and returns).

Run in a fresh interpreter: installing the clocks patches that process's `time` module.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import selftaught

CLOCK = Path(selftaught.__file__).parent / "sandbox" / "inside" / "openevolve" / "_selftaught_clock.py"

SCRIPT = textwrap.dedent(
    """
    import importlib.util, logging, signal, sys, time
    spec = importlib.util.spec_from_file_location("clock", sys.argv[1])
    clock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(clock)
    clock.install()
    seen = []

    def on_alarm(signum, frame):
        seen.append(time.time())  # what logging.warning(...) does for its record
        logging.getLogger("evaluator").warning("alarm")

    signal.signal(signal.SIGALRM, on_alarm)
    before = time.perf_counter()
    with clock._lock:  # the main thread inside a clock read, as the alarm arrives
        signal.raise_signal(signal.SIGALRM)
    clock.credit(0.25)
    after = time.perf_counter()
    print(len(seen), after >= before)
    """
)


def test_an_alarm_handler_reading_a_clock_mid_read_does_not_hang_the_evaluator(tmp_path: Path) -> None:
    script = tmp_path / "alarm.py"
    script.write_text(SCRIPT)
    try:
        done = subprocess.run(
            [sys.executable, str(script), str(CLOCK)], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("the evaluator hung on its own clock lock") from None
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "True"], done.stdout
