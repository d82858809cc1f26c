"""Suite-wide markers: `slow` is every test that runs real end-to-end machinery.

`pytest -m "not slow"` is the fast suite (unit tests, synthetic stores, the STOP layer on the scripted
executor); the full suite (CI) runs everything. A test is slow when it uses a real sandbox pool, a Ray
cluster or a browser (by fixture or marker, here), or when its module says so (`pytestmark`): real
bubblewrap jobs, the CLI in a subprocess, whole offline-model runs.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

# No test asserts a wall time, and hypothesis's per-example deadline (200 ms) and its "too slow" health
# check are wall times: on a busy machine (load 10-20 on two cores) an example that decodes in 5 ms idle
# takes longer, and the test failed for the load alone. Properties are checked on every example anyway.
settings.register_profile("selftaught", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("selftaught")

END_TO_END_FIXTURES = frozenset({"pool", "cluster"})
END_TO_END_MARKERS = ("ray", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & END_TO_END_FIXTURES or any(
            item.get_closest_marker(name) for name in END_TO_END_MARKERS
        ):
            item.add_marker(pytest.mark.slow)
