"""The OpenEvolve-format examples of circle_packing and bin_packing score like the built-in tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.tasks import builtin_task, evaluate, load_task

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["circle_packing", "bin_packing"])
def test_the_example_seed_scores_exactly_as_the_builtin_seed(pool: object, name: str) -> None:
    example = load_task(f"openevolve:{EXAMPLES / name}")
    builtin = builtin_task(name)
    ours = evaluate(example, example.seed_algorithm, split="val", executor=pool)  # type: ignore[arg-type]
    theirs = evaluate(builtin, builtin.seed_algorithm, split="val", executor=pool)  # type: ignore[arg-type]
    assert ours.setup_error is None and theirs.failures == 0
    assert ours.utility == pytest.approx(theirs.utility, abs=1e-12)


def test_the_circle_example_refuses_nan_centres_and_a_tolerance_exploit(pool: object) -> None:
    example = load_task(f"openevolve:{EXAMPLES / 'circle_packing'}")
    nan = example.seed_algorithm.replace(
        "    return centers, radii", "    centers[3] = np.nan\n    return centers, radii"
    )
    grown = example.seed_algorithm.replace(
        "radii[i] = max(room * (1 - 1e-9), 1e-9)", "radii[i] = room + 1e-7"
    )
    for program in (nan, grown):
        assert program != example.seed_algorithm
        result = evaluate(example, program, split="val", executor=pool)  # type: ignore[arg-type]
        assert result.utility == 0.0, result
