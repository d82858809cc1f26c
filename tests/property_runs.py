"""Property tests that run in both suites: a quick search in the fast suite, a broad one in the slow.

Why: a property that needs no sandbox belongs in the fast suite (it is what a change to a parser is
first checked by), but a broad hypothesis search costs seconds of CPU. Both runs check the same property;
only the number of examples differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings


def quick_and_broad(quick: int, broad: int) -> pytest.MarkDecorator:
    """Parametrise a test over `examples`: `quick` in the fast suite, `broad` marked slow."""
    return pytest.mark.parametrize(
        "examples",
        [pytest.param(quick, id="quick"), pytest.param(broad, id="broad", marks=pytest.mark.slow)],
    )


def check_property(examples: int, *strategies: Any, **named: Any) -> Callable[[Callable[..., None]], None]:
    """Run the decorated property over `examples` hypothesis examples, at once (a decorator that calls)."""

    def run(prop: Callable[..., None]) -> None:
        searched = settings(
            max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        )(given(*strategies, **named)(prop))
        searched()

    return run
