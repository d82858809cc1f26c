"""The paper's selection rule in a real paper-protocol run (offline model, real sandbox).

Under `--protocol paper` a candidate improver any of whose test runs raised is worth 0 to the improver
that proposed it, whatever its other runs scored (the original code's rule); under strict its runs are
averaged. The seed improver here asks for the meta-utility of one candidate that raises on some of its
test runs (its `random` is seeded per test index, so which ones is fixed) and returns the seed's
algorithm on the others; the stored candidate estimate must be exactly 0 while its returning runs scored
above 0. The unit test of the aggregation alone is in test_selection_rules.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.config import Settings
from selftaught.stop import api
from selftaught.store import Context, RunReader, sha256

from .conftest import SMALL

pytestmark = pytest.mark.slow  # end to end: a whole run in the real sandbox

CANDIDATE = (
    "import random\n"
    "\n"
    "def improve_algorithm(initial_solution, utility, language_model):\n"
    '    """Raises on some test runs (seeded per test index), else returns its input unchanged."""\n'
    "    if random.random() < 0.5:\n"
    "        raise ValueError('planned failure')\n"
    "    return initial_solution\n"
)
SEED_IMPROVER = (
    f"CANDIDATE = {CANDIDATE!r}\n"
    "\n"
    "def improve_algorithm(initial_solution, utility, language_model):\n"
    '    """Asked to improve an improver, scores CANDIDATE once; always returns its input."""\n'
    "    if 'def improve_algorithm' in initial_solution:\n"
    "        utility(CANDIDATE)\n"
    "    return initial_solution\n"
)


@pytest.mark.parametrize("protocol", ["paper", "strict"])
def test_paper_protocol_run_zeroes_a_candidate_with_a_raising_test(tmp_path: Path, protocol: str) -> None:
    seed = tmp_path / "seed_improver.py"
    seed.write_text(SEED_IMPROVER)
    settings = Settings(
        **{**SMALL, "tests": 4},
        improver=str(seed),
        iterations=1,
        protocol=protocol,
        runs_dir=tmp_path / "runs",
    )
    [result] = api.self_improve(settings)
    assert [it.status for it in result.iterations] == ["seed", "kept"]
    candidate = sha256(CANDIDATE)
    with RunReader.open(result.path / "run.sqlite") as store:
        runs = [r for r in store.improver_runs() if r.improver_sha == candidate]
        [estimate] = [m for m in store.meta_utilities() if m.improver_sha == candidate]
        [asked] = [c for c in store.utility_calls() if c.context == Context.step(1)]
    assert estimate.context == Context.candidates(1) and len(runs) == 4
    raised = [r for r in runs if r.error is not None]
    returned = [r for r in runs if r.error is None]
    # The seeding must give both kinds of run, or the rule is not exercised.
    assert raised and returned and all("ValueError" in (r.error or "") for r in raised)
    assert all(r.utility_val > 0 for r in returned)
    mean = sum(r.utility_val for r in runs) / len(runs)
    if protocol == "paper":
        assert (estimate.value_val, estimate.value_test, asked.value) == (0.0, 0.0, 0.0)
    else:
        assert estimate.value_val == pytest.approx(mean) and asked.value == pytest.approx(mean)
