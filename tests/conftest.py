"""Suite-wide markers: `slow` is every test that runs real end-to-end machinery.

`pytest -m "not slow"` is the fast suite (unit tests, synthetic stores, the STOP layer on the scripted
executor); the full suite (CI) runs everything. A test is slow when it uses a real sandbox pool, a Ray
cluster or a browser (by fixture or marker, here), or when its module says so (`pytestmark`): real
bubblewrap jobs, the CLI in a subprocess, whole offline-model runs.
"""

from __future__ import annotations

import pytest

END_TO_END_FIXTURES = frozenset({"pool", "cluster"})
END_TO_END_MARKERS = ("ray", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & END_TO_END_FIXTURES or any(
            item.get_closest_marker(name) for name in END_TO_END_MARKERS
        ):
            item.add_marker(pytest.mark.slow)
