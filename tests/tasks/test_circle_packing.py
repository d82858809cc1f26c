"""circle_packing: the strict packing check (on outputs built here) and the task end to end in the sandbox."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from selftaught.tasks import PAPER_NAMES, Instance, builtin_task, evaluate, list_tasks

TASK = builtin_task("circle_packing")
N = 26


def grid_packing(n: int = N, side: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Equal circles on a side x side grid, touching their neighbours and the walls."""
    r = 0.5 / side
    cells = [(2 * (k % side) + 1, 2 * (k // side) + 1) for k in range(n)]
    return np.array(cells, dtype=float) * r, np.full(n, r)


def instance(n: int = N) -> Instance:
    return TASK.instances("val" if n == N else "test", 1)[0]


def test_a_valid_packing_scores_its_sum_over_the_best_known_and_reports_the_sum() -> None:
    centers, radii = grid_packing()
    score, reason, detail = TASK.assess(instance(), (centers, radii))
    assert reason is None and detail is not None
    assert score == pytest.approx(26 / 12 / 2.635)
    assert detail.metrics == {"sum_radii": pytest.approx(26 / 12)}
    assert detail.events == ()
    # nested lists are as good as arrays
    assert TASK.judge(instance(), [centers.tolist(), radii.tolist()]) == (score, None)


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda c, r: (c, r.reshape(-1, 1)), "shape"),
        (lambda c, r: (c.T, r), "shape"),
        (lambda c, r: (c[:-1], r[:-1]), "shape"),
        (lambda c, r: (c, r, r), "pair"),
        (lambda c, r: (c,), "pair"),
        (lambda c, r: (c.astype(object), r), "real numbers"),
        (lambda c, r: (c, np.where(np.arange(N) == 3, 0.0, r)), "positive"),
        (lambda c, r: (c, np.where(np.arange(N) == 3, -r, r)), "positive"),
        (lambda c, r: (c + 0.01, r), "unit square"),
        (lambda c, r: (c, np.where(np.arange(N) == 7, np.inf, r)), "NaN or infinity"),
        (lambda c, r: ([[True, False]] * N, r), "real numbers"),
    ],
)
def test_malformed_packings_score_zero(mangle: object, why: str) -> None:
    centers, radii = grid_packing()
    score, reason = TASK.judge(instance(), mangle(centers, radii))  # type: ignore[operator]
    assert score == 0.0
    assert reason is not None and why in reason


def test_nan_centres_do_not_slip_past_the_bounds() -> None:
    # NaN compares False with every bound: a check written as `if x - r < 0: invalid` accepts it.
    centers, radii = grid_packing()
    centers[5] = np.nan
    radii[5] = 0.9  # a huge circle "nowhere"
    score, reason = TASK.judge(instance(), (centers, radii))
    assert score == 0.0 and reason is not None and "NaN" in reason


def test_a_one_in_a_million_overlap_is_an_overlap() -> None:
    # The exploit a 1e-6 tolerance allows: grow every radius by 5e-7, so each touching pair overlaps
    # by 1e-6 and the sum gains 26 x 5e-7; keep the circles inside the square by scaling the grid.
    centers, radii = grid_packing()
    grown = radii + 5e-7
    shrink = (0.5 - grown[0]) / (0.5 - radii[0])
    moved = 0.5 + (centers - 0.5) * shrink
    assert (moved - grown[:, None] >= 0).all() and (moved + grown[:, None] <= 1).all()
    score, reason = TASK.judge(instance(), (moved, grown))
    assert score == 0.0 and reason is not None and "overlap" in reason
    # Touching exactly (float rounding only) is fine.
    assert TASK.judge(instance(), (centers, radii))[1] is None


def test_new_best_is_an_event_only_for_a_valid_packing(monkeypatch: pytest.MonkeyPatch) -> None:
    best = TASK._scorer.score.__globals__["BEST_KNOWN"]  # the scorer module's table
    monkeypatch.setitem(best, N, 2.0)  # pretend the grid's 2.1667 beats the record
    centers, radii = grid_packing()
    score, reason, detail = TASK.assess(instance(), (centers, radii))
    assert score == 1.0 and reason is None and detail is not None
    assert [kind for kind, _ in detail.events] == ["new-best"]
    centers[0] = np.nan
    score, reason, detail = TASK.assess(instance(), (centers, radii))
    assert score == 0.0 and detail is None


def test_a_packing_that_only_ties_the_record_is_not_a_new_best(monkeypatch: pytest.MonkeyPatch) -> None:
    """The event says the record was beaten: a sum of radii equal to the best known scores 1 quietly."""
    centers, radii = grid_packing()
    monkeypatch.setitem(TASK._scorer.score.__globals__["BEST_KNOWN"], N, float(np.sum(radii)))
    score, reason, detail = TASK.assess(instance(), (centers, radii))
    assert score == 1.0 and reason is None and detail is not None and not detail.events


def test_it_is_listed_as_beyond_the_paper() -> None:
    assert "circle_packing" not in PAPER_NAMES
    assert "circle_packing" in [task.name for task in list_tasks()]
    assert "circle_packing" not in [task.name for task in list_tasks(paper_only=True)]
    assert [i.args for i in TASK.instances("val", 1)] == [[26]]
    assert [i.args for i in TASK.instances("test", 99)] == [[32]]


real = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.sampled_from([(N, 2), (N,), (2, N), (N, 1)]), elements=real),
    hnp.arrays(np.float64, st.sampled_from([(N,), (N, 1), (N - 1,)]), elements=real),
)
def test_no_random_output_crashes_or_scores_without_being_a_packing(
    centers: np.ndarray, radii: np.ndarray
) -> None:
    score, reason = TASK.judge(instance(), (centers, radii))
    assert 0.0 <= score <= 1.0
    if reason is None:  # then it really is a packing
        assert centers.shape == (N, 2) and radii.shape == (N,) and (radii > 0).all()
        assert (centers - radii[:, None] >= -1e-12).all() and (centers + radii[:, None] <= 1 + 1e-12).all()


def test_the_seed_and_a_nan_packing_in_the_sandbox(pool: object) -> None:
    seed = evaluate(TASK, TASK.seed_algorithm, split="val", executor=pool)  # type: ignore[arg-type]
    assert seed.failures == 0 and 0.8 < seed.utility < 0.9
    assert seed.metrics["sum_radii"] == pytest.approx(seed.utility * 2.635)
    test = evaluate(TASK, TASK.seed_algorithm, split="test", executor=pool)  # type: ignore[arg-type]
    assert test.failures == 0 and test.metrics["sum_radii"] > 2.4  # the construction works for n = 32
    nan = "import numpy as np\ndef algorithm(n):\n    return np.full((n, 2), np.nan), np.full(n, 0.5)\n"
    bad = evaluate(TASK, nan, split="val", executor=pool)  # type: ignore[arg-type]
    assert bad.utility == 0.0 and bad.failures == 1 and "NaN" in (bad.per_instance[0].error or "")
    assert "metrics" not in bad.to_dict()


def test_huge_integers_and_ragged_rows_are_refused() -> None:
    centers, radii = grid_packing()
    rows = centers.tolist()
    rows[0] = [10**400, 0.5]
    assert "fit a float" in (TASK.judge(instance(), (rows, radii))[1] or "")
    rows[0] = [0.5]
    assert "different lengths" in (TASK.judge(instance(), (rows, radii))[1] or "")


def test_a_new_best_reaches_the_run_events_as_other_not_safety(
    pool: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from selftaught import events
    from selftaught.stop.scoring import DownstreamScorer, SplitSeeds

    monkeypatch.setitem(TASK._scorer.score.__globals__["BEST_KNOWN"], N, 2.0)  # the seed's 2.233 "beats" it
    found: list[tuple[str, str]] = []
    scorer = DownstreamScorer(
        TASK,
        pool,
        SplitSeeds(4321, 1_000_001),
        None,  # type: ignore[arg-type]
        findings=lambda kind, detail, sha: found.append((kind, detail)),
    )
    assert scorer.utility(TASK.seed_algorithm, "val") == 1.0
    new_best = [detail for kind, detail in found if kind == "new-best"]
    assert len(new_best) == 1 and "2.233" in new_best[0]
    assert events.category("new-best") == "other"


OUTSIDE, INSIDE = 2e-12, 0.5e-12  # just past the 1e-12 slack, and within it


def _shifted(circle: int, dx: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
    centers, radii = grid_packing()
    centers[circle] += (dx, dy)
    return centers, radii


@pytest.mark.parametrize(
    ("wall", "circle", "direction"),
    [
        ("left", 0, (-1.0, 0.0)),  # circle 0 touches the left and bottom walls
        ("bottom", 0, (0.0, -1.0)),
        ("right", 5, (1.0, 0.0)),  # the last of the first row touches the right wall
    ],
)
def test_walls_are_exact_to_the_tolerance(wall: str, circle: int, direction: tuple[float, float]) -> None:
    """Each wall separately: a wall-touching circle pushed 2e-12 past it is refused, 0.5e-12 is not."""
    dx, dy = direction
    score, reason = TASK.judge(instance(), _shifted(circle, OUTSIDE * dx, OUTSIDE * dy))
    assert score == 0.0 and reason == f"invalid output: circle {circle} is not inside the unit square", wall
    assert TASK.judge(instance(), _shifted(circle, INSIDE * dx, INSIDE * dy))[1] is None, wall


def test_the_top_wall_is_exact_to_the_tolerance() -> None:
    """No grid circle touches the top: circle 24 (alone in the fifth row) is lifted to it first."""
    centers, radii = grid_packing()
    for slack, refused in ((OUTSIDE, True), (INSIDE, False)):
        lifted = centers.copy()
        lifted[24, 1] = 1.0 - radii[24] + slack
        score, reason = TASK.judge(instance(), (lifted, radii))
        if refused:
            assert score == 0.0 and reason == "invalid output: circle 24 is not inside the unit square"
        else:
            assert reason is None and score > 0.0


def test_overlap_is_exact_to_the_tolerance() -> None:
    """Circle 1 pushed toward its touching neighbour 0: 2e-12 of overlap is refused, 0.5e-12 is not (a
    1e-6 tolerance would accept both, and the sum of radii it allows grows with n)."""
    score, reason = TASK.judge(instance(), _shifted(1, -OUTSIDE, 0.0))
    assert score == 0.0 and reason == "invalid output: circles 0 and 1 overlap by 2e-12"
    assert TASK.judge(instance(), _shifted(1, -INSIDE, 0.0))[1] is None


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, (N,), elements=st.floats(0.05, 1.0)),
    hnp.arrays(np.float64, (N, 2), elements=st.floats(-1.0, 1.0)),
)
def test_random_valid_packings_are_accepted_and_scored_by_their_sum(
    shrink: np.ndarray, jitter: np.ndarray
) -> None:
    """Valid packings drawn at random (grid circles shrunk, then moved within the room that leaves):
    every one is accepted and scores its sum of radii over the best known."""
    centers, radii = grid_packing()
    small = radii * shrink
    moved = centers + jitter * (radii - small)[:, None]
    score, reason = TASK.judge(instance(), (moved, small))
    assert reason is None
    assert score == pytest.approx(float(small.sum()) / 2.635)


def test_the_slack_is_inclusive_an_overlap_or_wall_crossing_of_exactly_1e_12_passes() -> None:
    """Built so the float arithmetic is exact: two circles of radius 1e-12 whose centres are 1e-12
    apart overlap by exactly 1e-12 (2e-12 - 1e-12 and 1e-12 + 1e-12 are exact), and a circle of radius
    1e-12 centred on a wall crosses it by exactly 1e-12. Grid circles 24 and 25 make room for them."""
    tiny = 1e-12
    centers, radii = grid_packing()
    radii[24:] = tiny
    for left_x, right_x in ((tiny, 2 * tiny), (0.0, tiny)):  # overlap only; overlap and the left wall
        centers[24], centers[25] = (left_x, 0.5), (right_x, 0.5)
        assert TASK.judge(instance(), (centers, radii))[1] is None
    centers[24], centers[25] = (0.5, 0.0), (1.0, 0.5)  # on the bottom and on the right wall
    assert TASK.judge(instance(), (centers, radii))[1] is None
    centers[24], centers[25] = (0.5, 1.0), (0.75, 1.0)  # on the top wall
    assert TASK.judge(instance(), (centers, radii))[1] is None


def test_the_test_split_packs_32_circles_and_scores_them_against_its_own_best() -> None:
    centers, radii = grid_packing(32)  # 32 cells of the 6 x 6 grid
    score, reason, detail = TASK.assess(instance(32), (centers, radii))
    assert reason is None and detail is not None
    assert score == pytest.approx(32 / 12 / 2.937)  # sum of radii 32 / 12 over the best known for 32
    assert detail.metrics == {"sum_radii": pytest.approx(32 / 12)}
    assert (
        TASK.judge(instance(32), grid_packing(26))[1]
        == "invalid output: centers: expected shape (32, 2), got (26, 2)"
    )
