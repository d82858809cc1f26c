"""A host-driven session answers only while its own instance is timed.

Broke (third red team): the program could reach the session proxies outside its timed call (from
module-level code, or from instance k for session k+1: a capability is a name and a channel) and play
them untimed, each instance then charged ~0 s. The zygote now says which instance each remote call
came from, and session i refuses calls made while instance i is not the one being timed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from selftaught.sandbox import SandboxPool
from selftaught.tasks.evaluation import evaluate
from selftaught.tasks.registry import builtin_task

pytestmark = pytest.mark.slow  # real sandbox jobs

PRIORITY = "\n\ndef priority(item, bins):\n    return -(bins - item)\n"  # best fit: the task's seed

# Module-level code finds the child's channel up the stack and plays session 0 before any call is timed.
AT_IMPORT = (
    "import sys\n\n"
    "def _channel():\n"
    "    frame = sys._getframe(0)\n"
    "    while frame is not None:\n"
    "        for value in list(frame.f_locals.values()):\n"
    "            if type(value).__name__ == 'Channel':\n"
    "                return value\n"
    "        frame = frame.f_back\n\n"
    "try:\n"
    "    _channel().call('session0', 'first', (), {})\n"
    "except Exception:\n"
    "    pass\n" + PRIORITY
)
# Instance 0 builds a remote method for session 1 from its own and starts session 1 ahead of its turn.
AHEAD = (
    "import sys\n"
    "_done = []\n\n"
    "def priority(item, bins):\n"
    "    if not _done:\n"
    "        _done.append(1)\n"
    "        method = sys._getframe(1).f_locals['host'].first\n"
    "        try:\n"
    "            type(method)(method._channel, 'session1', 'first')()\n"
    "        except Exception:\n"
    "            pass\n"
    "    return -(bins - item)\n"
)


@pytest.fixture(scope="module")
def pool() -> Iterator[SandboxPool]:
    with SandboxPool(workers=2) as executor:
        yield executor


@pytest.mark.parametrize("program", [AT_IMPORT, AHEAD], ids=["at-import", "ahead-of-turn"])
def test_sessions_cannot_be_played_outside_their_timed_instance(pool: SandboxPool, program: str) -> None:
    task = builtin_task("bin_packing")
    honest = evaluate(task, PRIORITY, split="val", executor=pool)
    attempt = evaluate(task, program, split="val", executor=pool)
    # 0.95052: best fit played natively through the task's own session (no sandbox), 0.9505195132080564:
    #   python -c "from selftaught.tasks import builtin_task; t = builtin_task('bin_packing'); s = t.scorer
    #   v = []
    #   for i in t.instances('val', 4321):
    #       p = s.session(i); q = p.first()
    #       while q is not None: q = p.answer(-(q[1] - q[0]))
    #       v.append(s.score(i, p).value)
    #   print(sum(v) / len(v))"
    assert honest.failures == 0 and honest.utility == pytest.approx(0.95052, abs=1e-4)
    # The stray call was refused, so every session was played in its own turn, as by the honest program.
    assert attempt.failures == 0
    assert [i.score for i in attempt.per_instance] == [i.score for i in honest.per_instance]
