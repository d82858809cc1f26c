"""The host's reading of any answer an OpenEvolve evaluator's process can send (no sandbox needed).

What crosses back from the evaluator's sandboxed process is decoded by the bounded decoder and then read
into metrics, flags, artifacts and a stage count: whatever the decoded value, that reading gives finite
metrics or a reason, never an exception or an unbounded artifact.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from property_runs import check_property, quick_and_broad
from selftaught.tasks.openevolve import _read_output, utility_from_metrics

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**1000)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=5)
    ),
    max_leaves=30,
)
_answers = st.fixed_dictionaries(
    {},
    optional={
        "metrics": st.dictionaries(st.text(max_size=15), _values, max_size=6) | _values,
        "artifacts": st.dictionaries(st.text(max_size=8), _values, max_size=4) | _values,
        "stages": _values,
        "error": _values,
    },
)


@quick_and_broad(40, 300)
def test_any_decoded_answer_reads_as_finite_metrics_or_a_reason(examples: int) -> None:
    check_property(examples, st.one_of(_answers, _values))(_reads_as_finite_metrics_or_a_reason)


def _reads_as_finite_metrics_or_a_reason(answer: object) -> None:
    metrics, flags, artifacts, stages, error = _read_output(answer)
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    assert all(isinstance(v, bool) for v in flags.values()) and len(flags) <= 50
    assert isinstance(stages, int) and all(isinstance(v, str) and len(v) <= 8000 for v in artifacts.values())
    assert error is not None or metrics
    if metrics:
        assert math.isfinite(utility_from_metrics(metrics))
