"""Red team on `confine`'s rewritten descriptor handling: whatever way the Landlock step ends, the
program starts with its five descriptors (0..4) and nothing else.

Broke when written (weak mode only): a Landlock step that failed in a lenient child (a ruleset the
kernel refused, or the own-maps rule it could not add) left the ruleset's descriptor open at 5 for the
program. `confine` now closes it whichever way the step ends. Strong mode never got that far (the child
stops with ConfineError), so nothing of the default sandbox changed.
"""

from __future__ import annotations

import os

import pytest

from .test_confine_unit import LANDLOCK, Place, layers, place, run_confined  # noqa: F401  (place: a fixture)


def _open(found: dict[str, object]) -> list[str]:
    fds = found["fds"]
    assert isinstance(fds, dict)
    return [fd for fd, what in fds.items() if what is not None]


@pytest.mark.skipif(not LANDLOCK, reason="the kernel has no Landlock")
def test_a_lenient_child_whose_landlock_failed_holds_no_ruleset(place: Place) -> None:  # noqa: F811
    """The attack's occasion: a refused ruleset (a parked descriptor that is not one). The control: the
    same lenient child with a real ruleset, which is restricted and holds 0..4 as well."""
    not_a_ruleset = os.open("/dev/null", os.O_RDONLY)
    try:
        refused = layers(landlock_abi=LANDLOCK, landlock_ruleset=not_a_ruleset, strict=False)
        found, _ = run_confined(place, refused)
    finally:
        os.close(not_a_ruleset)
    assert "error" not in found, found
    assert _open(found) == ["0", "1", "2", "3", "4"], found["fds"]
    control, _ = run_confined(place, layers(landlock_abi=LANDLOCK, strict=False))
    assert control["outside"] != "written" and _open(control) == ["0", "1", "2", "3", "4"], control
