"""Suite-wide markers: `slow` is every test that runs real end-to-end machinery.

`pytest -m "not slow"` is the fast suite (unit tests, synthetic stores, the STOP layer on the scripted
executor); the full suite (CI) runs everything. A test is slow when it uses a real sandbox pool, a Ray
cluster or a browser (by fixture or marker, here), or when its module says so (`pytestmark`): real
bubblewrap jobs, the CLI in a subprocess, whole offline-model runs.
"""

from __future__ import annotations

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


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path not in CLUSTER_DIRS:
        return None
    expression = config.getoption("markexpr")
    if not expression:
        return None
    try:
        from _pytest.mark.expression import Expression  # pytest's own parser of `-m` (not public API)
    except ImportError:  # another pytest: collect, and let the marks deselect
        return None
    selected = Expression.compile(expression).evaluate(lambda name, **_: name in ("slow", "ray"))
    return None if selected else True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & END_TO_END_FIXTURES or any(
            item.get_closest_marker(name) for name in END_TO_END_MARKERS
        ):
            item.add_marker(pytest.mark.slow)
