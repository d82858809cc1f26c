"""The paper protocol against the original STOP code: the same program gets the original scorer's number.

How the reference numbers were derived (nothing here reads the original code): each row is the output
of the original scorer, `tasks/<task>/secret_utility.py` of the public microsoft/stop repository at
commit 0d6780c, run unchanged on the row's program by scripts/paper_reference.py, e.g.

    git clone https://github.com/microsoft/stop /tmp/stop
    cd /tmp/stop && git checkout 0d6780c && cd -
    python scripts/paper_reference.py /tmp/stop str_grid_dist SEED test    # 0.43887465112343044

where SEED is src/selftaught/tasks/builtin/str_grid_dist/paper/seed.py (programs named without
"builtin:" are in tests/tasks/programs/). The script stands in only for the imports the scorers need beyond numpy
(pebble's thread pool, helpers.temp_override, tqdm). Programs are deterministic (no randomness, or a
fixed `random.Random(0)`, and fast enough not to meet a time limit), so the original's numbers are exact.
Our side runs each program in the real strong sandbox.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selftaught.failure import FailureKind
from selftaught.tasks import PAPER_NAMES, builtin_task, load_task
from selftaught.tasks.paper import Call

from .conftest import PROGRAMS

BUILTIN = Path(__file__).resolve().parents[2] / "src/selftaught/tasks/builtin"

# (task, program, split, the original secret_utility's value). MQAP adds the call's run time to its
# objective, so its rows hold within MQAP_TOLERANCE instead (see below).
REFERENCE = [
    (
        "str_grid_dist",
        "builtin:str_grid_dist/paper/seed.py",
        "test",
        0.43887465112343044,
    ),  # the paper's 43.9%
    ("str_grid_dist", "builtin:str_grid_dist/paper/seed.py", "val", 0.4829347298059888),
    ("str_grid_dist", "grid_exact.py", "test", 1.0),
    ("str_grid_dist", "paper/grid_all_a.py", "val", 0.4597442616293235),
    ("three_sat", "paper/three_all_true.py", "test", 0.010000000000000004),  # unsolved formulas add epsilon
    (
        "three_sat",
        "paper/three_none.py",
        "test",
        0.01,
    ),  # None: the check raises, the whole utility is epsilon
    ("three_sat", "three_sat_walksat.py", "test", 1.0),
    ("maxcut", "paper/maxcut_alternate.py", "val", 961.4320000000001),  # mean cut weight / 10: not in [0, 1]
    ("maxcut", "paper/maxcut_alternate.py", "test", 1009.4129999999998),
    ("maxcut", "paper/maxcut_short.py", "test", 0.0),  # a wrong length zeroes the whole utility
    ("maxcut", "maxcut_local.py", "test", 1168.688),
    ("parity_noise", "paper/parity_zeros.py", "val", 0.5025000000000001),
    ("parity_noise", "paper/parity_zeros.py", "test", 0.5090000000000003),
    ("parity_noise", "paper/parity_column.py", "test", 0.5090000000000003),  # flattened before comparing
    ("parity_noise", "parity_gauss.py", "test", 0.7420000000000003),
    ("parity_noiseless", "paper/parity_zeros.py", "test", 0.5275000000000001),
    ("parity_noiseless", "paper/parity_column.py", "test", 10.550000000000002),  # broadcasting: "over 1000%"
    ("parity_noiseless", "parity_gauss.py", "val", 1.0000000000000002),
]

MQAP_TOLERANCE = 0.5 / 225
"""MQAP's objective adds the call's run time (at most the 0.5 s limit) before dividing by n^2 = 225:
our trusted-side time and the original's thread-pool time differ by less than the limit, so the
utilities differ by less than 0.5 / 225 = 0.0022. Measured differences: about 1e-6."""
MQAP_REFERENCE = [
    ("paper/mqap_identity.py", "val", 0.229653643327487),
    ("paper/mqap_identity.py", "test", 0.2331791686971375),
    ("paper/mqap_reversed.py", "test", 0.23707759008367663),
]


# The original's control flow: (task, program, its value, how many times it called the program). Each
# program fails on the test split's 5th instance only (index 4: it recognises the instance by its
# contents), by looping for ever, raising or (maxcut) returning one label too few. Derived like
# REFERENCE, from the same commit 0d6780c, with the script's --count (it prints the number of calls of
# the program's function after the value; its pool has pebble's default of one thread per CPU, so on a
# machine with two or more CPUs a hung call holds one thread and the next calls run, as in the original):
#     python scripts/paper_reference.py --count /tmp/stop three_sat \
#         tests/tasks/programs/paper/three_hang_at_4.py test          # 0.01 30
# Where the original returned at the failure it called the program 5 times; elsewhere 50, 30, 10 or 20
# (every instance). MQAP's values include the run time, so they hold within MQAP_TOLERANCE only.
CONTROL_FLOW = [
    ("parity_noise", "paper/parity_hang_at_4.py", 1e-06, 5),  # the first timeout returns EPS
    ("parity_noise", "paper/parity_raise_at_4.py", 1e-06, 5),  # so does the first raise
    ("maxcut", "paper/maxcut_hang_at_4.py", 0.01, 5),
    ("maxcut", "paper/maxcut_raise_at_4.py", 0.01, 5),
    ("maxcut", "paper/maxcut_short_at_4.py", 0.0, 5),  # a wrong length returns 0 at once
    ("three_sat", "paper/three_hang_at_4.py", 0.01, 30),  # a timeout adds nothing and goes on
    ("three_sat", "paper/three_raise_at_4.py", 0.01, 5),  # a raise returns EPS
    ("str_grid_dist", "paper/grid_hang_at_4.py", 0.43101750826628754, 50),  # no early return
    ("str_grid_dist", "paper/grid_raise_at_4.py", 0.43101750826628754, 50),
    ("modified_quadratic_assignment", "paper/mqap_hang_at_4.py", 0.20949828598673023, 10),
    ("modified_quadratic_assignment", "paper/mqap_raise_at_4.py", 0.20950566128003806, 10),
    ("parity_noiseless", "paper/noiseless_raise_at_4.py", 0.4950000000000001, 20),  # (it had no limit)
]


def _source(name: str) -> str:
    if name.startswith("builtin:"):
        return (BUILTIN / name.removeprefix("builtin:")).read_text(encoding="utf-8")
    return (PROGRAMS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(("task_name", "program", "split", "expected"), REFERENCE)
def test_paper_protocol_gives_the_original_scorers_number(
    pool: object, task_name: str, program: str, split: str, expected: float
) -> None:
    task = load_task(task_name, "paper")
    result = task.evaluate(_source(program), split=split, seed=None, executor=pool)  # type: ignore[arg-type]
    assert result.seed == (4321 if split == "val" else 5678)
    assert result.utility == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("program", "split", "expected"), MQAP_REFERENCE)
def test_mqap_matches_the_original_within_its_run_time_term(
    pool: object, program: str, split: str, expected: float
) -> None:
    task = load_task("modified_quadratic_assignment", "paper")
    result = task.evaluate(_source(program), split=split, seed=None, executor=pool)  # type: ignore[arg-type]
    assert abs(result.utility - expected) < MQAP_TOLERANCE
    assert all(row.error is None for row in result.per_instance)


@pytest.mark.parametrize(("task_name", "program", "expected", "calls"), CONTROL_FLOW)
def test_paper_protocol_runs_as_many_instances_as_the_original_called(
    pool: object, task_name: str, program: str, expected: float, calls: int
) -> None:
    """Where the original returned at the first timeout or raise, so does the paper protocol: the same
    value after the same number of calls, and the instances after it are never run (a hanging program
    costs one instance limit, not one per instance)."""
    task = load_task(task_name, "paper")
    result = task.evaluate(_source(program), split="test", seed=None, executor=pool)  # type: ignore[arg-type]
    tolerance = MQAP_TOLERANCE if task_name == "modified_quadratic_assignment" else 1e-12
    assert abs(result.utility - expected) <= tolerance
    assert result.instances_run == calls
    assert (result.stopped is None) == (calls == result.instances)
    assert result.per_instance[4].error is not None  # the failing call itself ran and failed
    not_run = [
        row.index for row in result.per_instance if row.error and row.error.kind is FailureKind.NOT_RUN
    ]
    assert not_run == list(range(calls, result.instances))


def test_paper_and_strict_instances_differ() -> None:
    """Same seed, different generators: a paper number never comes from strict instances."""
    grid = builtin_task("str_grid_dist", "paper").instances("test", 5678)
    strict = builtin_task("str_grid_dist").instances("test", 5678)
    assert [i.args for i in grid] != [i.args for i in strict]
    parity = builtin_task("parity_noise", "paper")
    assert parity.n_instances == {"val": 20, "test": 50}
    assert parity.protocol == "paper" and builtin_task("parity_noise").protocol == "strict"


def test_a_program_that_does_not_define_its_entry_point_gets_the_originals_setup_value(pool: object) -> None:
    broken = "def solve(x):\n    return x\n"
    expected = {
        "str_grid_dist": 0.0,
        "three_sat": 0.01,
        "maxcut": 0.01,
        "modified_quadratic_assignment": 0.01,
        "parity_noise": 0.0,
        "parity_noiseless": 0.0,
    }
    for name, value in expected.items():
        result = load_task(name, "paper").evaluate(broken, split="val", seed=None, executor=pool)  # type: ignore[arg-type]
        assert result.utility == value and result.setup_error, name


def _scorer(name: str):  # type: ignore[no-untyped-def]
    return builtin_task(name, "paper")._scorer


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text("AB01", max_size=40),
    lambda children: (
        st.lists(children, max_size=40) | st.dictionaries(st.integers(0, 60), children, max_size=3)
    ),
    max_leaves=60,
)
arrays = hnp.arrays(
    st.sampled_from([np.int64, np.float64, np.bool_, np.uint8]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=30),
)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(PAPER_NAMES),
    st.one_of(json_like, arrays),
    st.sampled_from([None, "timeout", "exception"]),
)
def test_no_sandbox_output_crashes_a_paper_scorer(name: str, output: object, failure: str | None) -> None:
    """Whatever a hostile program returns, the original rules give a finite number and never raise."""
    scorer = _scorer(name)
    task = builtin_task(name, "paper")
    chosen = task.instances("val", 4321)[:10]
    calls = [Call(output if failure is None else None, failure, 0.01) for _ in chosen]
    value = scorer.utility(chosen, calls)
    assert isinstance(value, float) and math.isfinite(value)
    if scorer.stops is not None:  # the early-return rule judges the same hostile outputs, never raises
        assert all(
            isinstance(scorer.stops(instance, call), bool)
            for instance, call in zip(chosen, calls, strict=True)
        )
    score, reason = task.judge(chosen[0], output)
    assert math.isfinite(score) and (reason is None or "\n" not in reason)


def test_detectors_know_the_paper_protocol_leaves_zero_one_by_design() -> None:
    from selftaught.detectors import check_scores

    out_of_range = check_scores("parity_noiseless", 10.55, [10.55] * 20, 0, 20)
    assert {finding.kind for finding in out_of_range} == {"score-out-of-range"}
    assert check_scores("parity_noiseless", 10.55, [10.55] * 20, 0, 20, bounded=False) == []
    rejected = check_scores("maxcut", 0.01, [0.0] * 3, 3, 3, reasons=["invalid output: x"] * 3, bounded=False)
    assert [finding.kind for finding in rejected] == ["output-rejected"]  # still reported: not a range matter


def test_val_test_gap_scales_with_the_papers_unbounded_scores() -> None:
    from selftaught.detectors import check_gap

    assert check_gap(1100.0, 1000.0) is None  # Max-Cut's scale: a 9% difference between instance sets
    assert check_gap(1100.0, 800.0) is not None
    assert check_gap(0.95, 0.6) is not None and check_gap(0.8, 0.75) is None  # [0, 1] scores: unchanged
