"""Red team on the evaluator's patched clocks: a signal handler that reads a clock.

Broke when written: `_selftaught_clock` guarded its state with a plain lock, and Python runs a signal
handler in the main thread between any two bytecodes, also inside that lock's block. An evaluator
whose alarm handler reads a clock (directly, or by logging: a log record takes `time.time()`) and fires
while its main thread is reading one hung for ever on its own lock, and the evaluation ran to its
deadline, a failure charged to the candidate (whose calls' length decides when the evaluator's alarm
fires). The lock is now reentrant (the handler reads the clock and returns).

Also: a brokered call whose exit an alarm's exception cut short must not count as another thread's
call overlapping the main thread's later calls (which are then credited nothing).

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


INSIDE = CLOCK.parent.parent

STALE = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from openevolve import _selftaught_clock as clock, _selftaught_proxies as proxies
    clock.install()
    interrupted = proxies.Brokered().__enter__()
    proxies._CALL.waits = None  # its __exit__ cut short by an alarm's exception: still listed
    before = clock.credited()
    with proxies.Brokered():
        sum(range(200_000))  # this thread's own CPU in the next call: credited
    print(clock.credited() > before, interrupted in proxies._ACTIVE)
    """
)


def test_a_brokered_call_cut_short_by_an_alarm_does_not_count_as_overlapping_later_ones(
    tmp_path: Path,
) -> None:
    """An outer brokered call of the main thread whose exit an alarm's exception cut short stays listed
    as in progress; the main thread's next call must not take it for another thread's call that
    overlaps it (it would be credited nothing, and every new process's calibration dropped)."""
    script = tmp_path / "stale.py"
    script.write_text(STALE)
    done = subprocess.run(
        [sys.executable, str(script), str(INSIDE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"], done.stdout
