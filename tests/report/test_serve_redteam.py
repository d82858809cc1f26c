"""Red team: text generated code controls, shown by the live view, stays text.

Generated code decides the source of every program (improvers and downstream programs), the reasons
its runs fail (exception messages), and much of what events say. A store is written with markup and
script in each of those places; the run's page (and the same text arriving through a live update, the
path that inserts new content into an open page) must show it literally and run none of it: no marker
set by the hostile scripts, no element they would create, no handler attribute, no CSP violation
(nothing even tried to run), and every hostile string present as plain text.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import browser
import pytest
from cdp import Page
from serve_fixtures import ServeProcess

from selftaught.config import Settings
from selftaught.store import Context, ImproverRunRecord, IterationRecord, MetaUtilityRecord, RunMeta, RunStore

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not browser.available(), reason="needs headless chromium"),
]

RUN_ID = "20261126-000000-circle_packing-s0-evil"


def hostile(place: str) -> str:
    return (
        f"{place}: </code></pre></td></tr></table></details>"
        f"<script>window.__pwned = '{place} script'</script>"
        f"<img src=x id=pwned-{place} onerror=\"window.__pwned = '{place} img'\">"
        f"<svg onload=\"window.__pwned = '{place} svg'\"></svg>"
        f'<a id=pwned-link-{place} href="javascript:window.__pwned = 1">click</a>'
        f'<iframe src="data:text/html,<script>parent.__pwned = 1</script>"></iframe>'
        "<style>body { display: none }</style>' onmouseover='window.__pwned = 1' \"><b>bold?</b>"
    )


PROGRAM = (
    "def improve_algorithm(initial_solution, utility, language_model):\n    return '''"
    + hostile("improver")
    + "'''\n"
)
DOWNSTREAM = "def pack():\n    '''" + hostile("program") + "'''\n    return []\n"


def hostile_run(runs_dir: Path) -> Path:
    run_dir = runs_dir / RUN_ID
    store = RunStore(run_dir / "run.sqlite")
    settings = Settings(task="circle_packing", iterations=3, tests=2, runs_dir=runs_dir)
    store.write_meta(
        RunMeta(
            config=settings.model_dump(mode="json"),
            version="0.1.0",
            command="selftaught run",
            model="offline:0",
            task="circle_packing",
            status="running",
            started=1_700_000_000.0,
        )
    )
    seed = store.put_program(
        "def improve_algorithm(initial_solution, utility, language_model):\n    return initial_solution\n",
        "improver",
    )
    evil = store.put_program(PROGRAM, "improver")
    output = store.put_program(DOWNSTREAM, "algorithm")
    store.add_iteration(
        IterationRecord(0, seed, None, "seed", 0.5, 0.5, 0.01, 0.01, None, 1, 10, 10, 0.0, 1.0)
    )
    store.add_iteration(
        IterationRecord(1, evil, seed, "improved", 0.6, 0.6, 0.01, 0.01, hostile("note"), 1, 10, 10, 0.0, 1.0)
    )
    for t, sha in ((0, seed), (1, evil)):
        store.add_meta_utility(
            MetaUtilityRecord(Context.iteration(t), sha, "circle_packing", 0.5, 0.5, 0.01, 0.01, 2)
        )
    store.add_meta_utility(
        MetaUtilityRecord(Context.candidates(1), evil, "circle_packing", 0.6, 0.6, 0.01, 0.01, 2)
    )
    for index, error in ((0, None), (1, hostile("failure"))):
        store.add_improver_run(
            ImproverRunRecord(
                Context.candidates(1),
                evil,
                "circle_packing",
                index,
                "i" * 64,
                output,
                error,
                0.6,
                0.6,
                1,
                1,
                1.0,
            )
        )
    store.add_event("improver-failed", hostile("event"), iteration=1, program_sha=evil)
    store.close()
    return run_dir


PWNED = """JSON.stringify({
  pwned: window.__pwned || null,
  injected: document.querySelectorAll('main script, main img, main iframe, [id^=pwned], a[href^="javascript:"], main b').length,
  handlers: Array.prototype.filter.call(document.querySelectorAll('*'), function (e) {
    return Array.prototype.some.call(e.attributes, function (a) { return a.name.indexOf('on') === 0; });
  }).length,
  text: document.body.textContent,
  visible: getComputedStyle(document.body).display
})"""


def test_hostile_text_is_shown_inert_on_load_and_through_live_updates(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    run_dir = hostile_run(runs_dir)
    with ServeProcess(runs_dir) as server, Page(f"{server.url}runs/{RUN_ID}") as page:
        page.wait_for("document.body && document.body.dataset.ready === '1'", timeout=300)
        page.evaluate("document.querySelectorAll('details').forEach(function (d) { d.open = true; })")
        first = json.loads(page.evaluate(PWNED))
        page.wait_for(
            "document.getElementById('live-state').textContent.indexOf('run last wrote') >= 0", timeout=300
        )
        # A new event with hostile text arrives while the page is open: it comes in through the live swap.
        store = RunStore.open_existing(run_dir / "run.sqlite")
        store.add_event("improver-failed", hostile("late-event"), iteration=1, program_sha=None)
        store.close()
        page.wait_for("document.body.textContent.indexOf('late-event: ') >= 0", timeout=300)
        # the swapped-in body keeps the blocks the reader had opened (by id, or place in their section)
        assert page.evaluate("document.querySelectorAll('main details:not([open])').length") == 0
        assert int(page.evaluate("document.body.dataset.updates")) >= 1
        time.sleep(1)  # let anything that would run (load handlers, frames) do so
        later = json.loads(page.evaluate(PWNED))
        problems = page.messages()
        with Page(server.url) as index:  # the runs list shows the run too
            index.wait_for("document.body && document.body.dataset.ready === '1'", timeout=300)
            listed = json.loads(index.evaluate(PWNED))
    for state in (first, later, listed):
        assert state["pwned"] is None and state["injected"] == 0 and state["handlers"] == 0, state
        assert state["visible"] != "none"
    for place in ("improver", "program", "note", "failure", "event"):
        assert hostile(place) in first["text"], place
    assert hostile("late-event") in later["text"]
    assert RUN_ID in listed["text"]
    assert not [text for text in problems if "Content Security Policy" in text or "exception" in text], (
        problems
    )
