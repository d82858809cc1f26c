"""The secret test split, proven from a run's stored numbers (fast: ScriptedExecutor, no sandbox).

`split_echo` scores a program that returns v as v on validation and v / 2 on test, so every stored
number says which split produced it: the validation meta-utility must be the validation mean, the test
meta-utility exactly half of it, every value an improver received from its utility a validation score,
and no job (improver or program) ever carries a test label. Everything above the executor is real: the
capabilities, DownstreamScorer and its memo, MetaUtility, the loop and the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selftaught.config import Settings
from selftaught.sandbox.job import Proxy
from selftaught.stop.api import run_once
from selftaught.store import RunReader
from selftaught.testing.fake_executor import ScriptedExecutor, script_of

from .test_loop_fake import improve, improver, program

TASK = Path(__file__).parent / "split_echo"
TEST_SEED = 777


class Recorder:
    """The scripts of test_loop_fake, recording what each improver's utility answered."""

    def __init__(self) -> None:
        self.received: list[tuple[str, float]] = []  # (program scored, value the improver got)

    def improver(self, initial: str, utility: Any, language_model: Any, step: str) -> str:
        recording = _Recording(utility, self.received)
        return improve(initial, recording, language_model, step)

    def executor(self) -> ScriptedExecutor:
        return ScriptedExecutor({"value": lambda i, v: float(v), "improver": self.improver})


class _Recording:
    def __init__(self, utility: Any, received: list[tuple[str, float]]) -> None:
        self.utility, self.received = utility, received

    def __call__(self, source: str) -> float:
        value = self.utility(source)
        self.received.append((source, value))
        return value


def settings(tmp_path: Path, iterations: int) -> Settings:
    path = tmp_path / "seed_improver.py"
    path.write_text(improver(0.1))
    return Settings(
        task=str(TASK),
        improver=str(path),
        iterations=iterations,
        tests=2,
        estimate_tests=2,
        lm_calls=2,
        responses_per_call=2,
        utility_budget=4,
        test_seed=TEST_SEED,
        runs_dir=tmp_path / "runs",
    )


def value_of(source: str) -> float:
    named = script_of(source)
    assert named is not None and named[0] == "value", source
    return float(named[1]["v"])


def test_stored_meta_utilities_come_from_their_own_split(tmp_path: Path) -> None:
    """Seed program 0.3; the improver adds its step (0.1, then 0.2 once it improved itself): validation
    means 0.4 and 0.5, test means exactly half (0.2, 0.25), for the iterations and every stored run."""
    result = run_once(settings(tmp_path, 1), executor=Recorder().executor())
    assert [it.status for it in result.iterations] == ["seed", "improved"]
    assert [round(it.meta_utility_val, 9) for it in result.iterations] == [0.4, 0.5]
    assert [round(it.meta_utility_test, 9) for it in result.iterations] == [0.2, 0.25]
    with RunReader.open(result.path / "run.sqlite") as store:
        runs = store.improver_runs()
        assert runs
        for run in runs:
            assert run.output_sha is not None
            output = store.get_program(run.output_sha)
            assert output is not None
            assert abs(run.utility_val - value_of(output)) < 1e-12, run
            assert abs(run.utility_test - value_of(output) / 2) < 1e-12, run


def test_improvers_only_ever_see_validation_scores(tmp_path: Path) -> None:
    """What every improver's utility answered, and every stored utility call, is the validation score of
    the program it was asked about; no job carries a test label, and programs scored on test (the test
    seed's instances) are only the outputs of finished improver runs, never scored for an improver."""
    recorder = Recorder()
    fake = recorder.executor()
    result = run_once(settings(tmp_path, 1), executor=fake)
    received = [(source, value) for source, value in recorder.received if "def algorithm" in source]
    assert received, "the improvers asked for no program's utility"
    for source, value in received:
        assert abs(value - value_of(source)) < 1e-12, (source, value)
    with RunReader.open(result.path / "run.sqlite") as store:
        scored = [(call, store.get_program(call.program_sha)) for call in store.utility_calls()]
        programs = [(call, source) for call, source in scored if source and "def algorithm" in source]
        assert programs
        for call, source in programs:
            assert abs(call.value - value_of(source)) < 1e-12, call
        outputs = {store.get_program(run.output_sha) for run in store.improver_runs() if run.output_sha}
    test_args = [[TEST_SEED + i] for i in range(3)]
    tested = [job for job in fake.jobs if job.instances == test_args]
    assert tested and {job.source for job in tested} <= outputs
    for job in fake.jobs:
        assert "secret-" not in repr(job), job.label
        if any(isinstance(arg, Proxy) for args in job.instances for arg in args):
            assert all(args[0] not in test_args for args in job.instances)


def test_a_program_scored_on_both_splits_keeps_two_memo_entries(tmp_path: Path) -> None:
    """The scorer's memo is keyed by split: the same program asked for val then test (and again) gets
    its two different values, each computed once."""
    from selftaught.stop.scoring import DownstreamScorer, SplitSeeds
    from selftaught.tasks.registry import load_task

    fake = ScriptedExecutor({"value": lambda i, v: float(v)})
    scorer = DownstreamScorer(load_task(str(TASK)), fake, SplitSeeds(val=4321, test=TEST_SEED), None)
    source = program(0.6)
    assert [scorer.utility(source, split) for split in ("val", "test", "val", "test")] == [0.6, 0.3, 0.6, 0.3]
    assert len(fake.jobs) == 2


def test_lm_calls_are_scoped_by_context_improver_and_test(tmp_path: Path) -> None:
    """Each meta-utility test's LM calls carry the purpose "<context>/<improver sha[:12]>/test=<i>": the
    scope of the LM cache, so a resumed run replays exactly the calls of the tests it already ran."""
    fake = Recorder().executor()
    result = run_once(settings(tmp_path, 0), executor=fake)
    sha = result.iterations[0].improver_sha
    labels = sorted(job.label for job in fake.jobs if " improver " in job.label)
    assert labels == [f"iteration t=0 improver {sha[:8]} test {i}" for i in range(2)]
    with RunReader.open(result.path / "run.sqlite") as store:
        purposes = sorted({call.purpose for call in store.lm_calls() if call.purpose})
        iterations = {call.iteration for call in store.lm_calls()}
    assert purposes == [f"iteration t=0/{sha[:12]}/test={i}" for i in range(2)]
    assert iterations == {0}  # every call is counted to the seed iteration


def test_a_runs_split_seeds_cannot_be_changed_once_made() -> None:
    """The seeds a run scores with are fixed for the run: the record of them is immutable."""
    import dataclasses

    import pytest

    from selftaught.stop.scoring import SplitSeeds

    seeds = SplitSeeds(val=4321, test=TEST_SEED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        seeds.test = 4321  # type: ignore[misc]
    assert (seeds.for_split("val"), seeds.for_split("test")) == (4321, TEST_SEED)
