"""`--protocol strict|paper`: choosing the protocol, and what is refused (one line, exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.errors import UsageError
from selftaught.tasks import load_task
from selftaught.tasks.scoring_protocol import PAPER_TEST_SEED, default_test_seed

from .test_cli import run_here

SEED = Path(__file__).resolve().parents[2] / "src/selftaught/tasks/builtin/str_grid_dist/seed.py"


def test_unknown_protocol_is_one_line_exit_2(capfd: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_here(capfd, "eval", "str_grid_dist", str(SEED), "--protocol", "origin")
    assert code == 2
    assert err.strip().splitlines() == ["error: --protocol must be one of strict, paper, got 'origin'"]
    code, _out, err = run_here(capfd, "meta-eval", "seed", "--protocol", "origin")
    assert code == 2 and "protocol" in err and "Traceback" not in err


def test_paper_protocol_refuses_user_task_directories(tmp_path: Path) -> None:
    from selftaught.tasks import new_task

    created = new_task("subsets", tmp_path)
    assert load_task(str(created)).name == "subsets"
    with pytest.raises(UsageError, match="built-in tasks only"):
        load_task(str(created), "paper")


def test_paper_test_seed_is_public_and_strict_is_secret() -> None:
    assert default_test_seed("paper") == PAPER_TEST_SEED == 5678
    drawn = {default_test_seed("strict") for _ in range(3)}
    assert all(seed >= 1_000_000 for seed in drawn) and len(drawn) == 3


@pytest.mark.slow  # a real evaluation in the sandbox
def test_eval_paper_test_split_uses_the_public_seed_and_gives_the_papers_number(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import json

    code, out, err = run_here(
        capfd, "eval", "str_grid_dist", str(SEED), "--protocol", "paper", "--split", "test", "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert (
        result["seed"] == 5678 and abs(result["utility"] - 0.43887465112343044) < 1e-12
    )  # the paper's 43.9%: the original scorer's number (test_paper_protocol.py says how to re-derive it)
    code, out, _err = run_here(capfd, "eval", "str_grid_dist", str(SEED), "--split", "test", "--json")
    assert code == 0 and json.loads(out)["seed"] >= 1_000_000  # strict: a fresh secret seed


def test_a_runs_transfer_refuses_the_other_protocol(tmp_path: Path) -> None:
    """Transfer reuses the run's stored improver runs and test seed: another protocol would mix scores."""
    from selftaught.config import Settings
    from selftaught.stop import api
    from selftaught.store import RunMeta, RunStore

    run_dir = tmp_path / "runs" / "20261127-000000-parity_noise-s0-abcd"
    store = RunStore(run_dir / "run.sqlite")
    store.write_meta(RunMeta(task="parity_noise", config={"protocol": "strict"}, test_seed=1_234_567))
    store.close()
    settings = Settings(runs_dir=tmp_path / "runs", protocol="paper", tests=1, estimate_tests=1)
    with pytest.raises(UsageError, match="scored under --protocol strict"):
        api.transfer(run_dir.name, tasks=["str_grid_dist"], settings=settings)
