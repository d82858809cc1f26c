"""Run and group ids say which seeds they hold."""

from __future__ import annotations

import re

from selftaught.store.rundir import new_run_id


def test_a_group_id_names_its_seed_range_and_a_run_its_seed() -> None:
    assert re.fullmatch(r"\d{8}-\d{6}-circle_packing-s0-[0-9a-f]{4}", new_run_id("circle_packing", 0))
    assert "-circle_packing-s0-1-" in new_run_id("circle_packing", 0, 1)
    assert "-circle_packing-s3-7-" in new_run_id("circle_packing", 3, 7)
    assert "-mytask-s2-" in new_run_id("/home/me/mytask", 2, 2)
