"""Suite-wide markers: `slow` is every test that runs real end-to-end machinery.

`pytest -m "not slow"` is the fast suite (unit tests, synthetic stores, the STOP layer on the scripted
executor); the full suite (CI) runs everything. A test is slow when it uses a real sandbox pool, a Ray
cluster or a browser (by fixture or marker, here), or when its module says so (`pytestmark`): real
bubblewrap jobs, the CLI in a subprocess, whole offline-model runs.

Both suites run on pytest-xdist workers (`-n auto --dist loadgroup` in pyproject.toml; `-n 0` runs in
this process). How many workers, which tests share one, and in what order they are handed out is
decided here; TESTING.md says why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No test asserts a wall time, and hypothesis's per-example deadline (200 ms) and its "too slow" health
# check are wall times: on a busy machine (load 10-20 on two cores) an example that decodes in 5 ms idle
# takes longer, and the test failed for the load alone. Properties are checked on every example anyway.
settings.register_profile("selftaught", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("selftaught")

END_TO_END_FIXTURES = frozenset({"pool", "cluster"})
END_TO_END_MARKERS = ("ray", "browser")
# Every test of these directories needs a Ray cluster (marked `ray`, hence slow): when the mark expression
# leaves such tests out (`-m "not slow"`), the directory is not even imported, because importing Ray
# costs the fast suite about a second of CPU for tests it would deselect anyway.
CLUSTER_DIRS = frozenset({Path(__file__).parent / "cluster"})


def _keeps(config: pytest.Config, marks: tuple[str, ...]) -> bool:
    """Does the `-m` expression keep a test carrying exactly these marks? (True without `-m`.)"""
    expression = config.getoption("markexpr")
    if not expression:
        return True
    try:
        from _pytest.mark.expression import Expression  # pytest's own parser of `-m` (not public API)
    except ImportError:  # another pytest: assume kept, and let the marks deselect
        return True
    return bool(Expression.compile(expression).evaluate(lambda name, **_: name in marks))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path not in CLUSTER_DIRS:
        return None
    return None if _keeps(config, ("slow", "ray")) else True


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown when pytest runs with `-p no:xdist`
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for `-n auto`: one per core for the fast suite, two per core when slow tests run.

    The unit tests are CPU-bound, and every worker pays the collection (about 9 s of CPU without a
    bytecode cache), so more workers than cores only add collections. The end-to-end tests mostly
    wait on what they started (CLI subprocesses, sandboxed children, servers, a browser), so two per
    core keep both cores busy. `PYTEST_XDIST_AUTO_NUM_WORKERS` overrides, as in pytest-xdist.
    """
    override = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").strip()
    if override.isdigit():
        return int(override)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 2 * cores if _keeps(config, ("slow",)) else cores


# Tests that share one pytest-xdist worker, by node-id prefix: their expensive package- or module-scoped
# fixture is then made once per run instead of once per worker. (pytest-xdist's `xdist_group` marks do
# not work under pytest 9: pytest-xdist 3.8 renames the items through `item._nodeid`, which pytest 9 no
# longer reads, so the scheduler below groups by node id instead.)
SHARED_WORKER = {
    "tests/cluster/": "ray-cluster",  # one two-node Ray cluster for the package
    "tests/report/test_real_runs.py::": "real-runs",  # three offline-model runs for the module
    "tests/report/test_budget_real.py::": "budget-real",  # one offline-model run for the module
}


def shared_worker(nodeid: str) -> str | None:
    """The group a test shares its worker with, if any."""
    return next((group for prefix, group in SHARED_WORKER.items() if nodeid.startswith(prefix)), None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadgroup` (pyproject.toml) with the groups of `SHARED_WORKER` as well as any marks:
    each group goes to one worker; every other test goes, one at a time, to whichever worker is free."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SharedWorkerScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return shared_worker(nodeid) or super()._split_scope(nodeid)

    return SharedWorkerScheduling(config, log)  # type: ignore[arg-type]


def _order(item: pytest.Item) -> int:
    """Long tests first, then the other slow ones, unit tests last: a worker takes the next test when
    it is free, so a long test handed out late would run alone at the end while the others idle."""
    if item.get_closest_marker("long"):
        return 0
    return 1 if item.get_closest_marker("slow") else 2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & END_TO_END_FIXTURES or any(
            item.get_closest_marker(name) for name in END_TO_END_MARKERS
        ):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_order)  # stable: modules stay in order within each rank
