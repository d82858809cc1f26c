"""The one defaults table, selftaught.toml sections and flat keys, errors in the user's words, and
progress totals that end at 100%."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selftaught.cli.progress import PlainProgress, RichProgress, Tracker
from selftaught.config import Settings, load_settings
from selftaught.defaults import KNOBS, SECTIONS
from selftaught.errors import UsageError


def test_every_setting_has_one_knob_and_the_model_reads_its_default() -> None:
    assert set(KNOBS) == set(Settings.model_fields)
    defaults = Settings()
    for name, knob in KNOBS.items():
        assert getattr(defaults, name) == knob.default, name
        assert knob.section in SECTIONS
        annotation = Settings.model_fields[name].annotation
        if typing.get_origin(annotation) is typing.Literal:
            assert tuple(typing.get_args(annotation)) == knob.choices, name


def test_sections_and_flat_keys_are_both_read(tmp_path: Path) -> None:
    sections = tmp_path / "sections.toml"
    sections.write_text(
        '[run]\niterations = 7\nlm-calls = 2\n[lm]\nmax-cost = 1.5\n[sandbox]\nmode = "weak"\n'
        '[executor]\nkind = "local"\naddress = "10.0.0.1:6379"\n'
    )
    settings = load_settings({}, sections)
    assert (
        settings.iterations,
        settings.lm_calls,
        settings.max_cost,
        settings.sandbox,
        settings.ray_address,
    ) == (7, 2, 1.5, "weak", "10.0.0.1:6379")
    flat = tmp_path / "flat.toml"
    flat.write_text('[selftaught]\niterations = 4\nsandbox = "weak"\nmax-cost = 2.0\n')
    assert (load_settings({}, flat).iterations, load_settings({}, flat).sandbox) == (4, "weak")
    top = tmp_path / "top.toml"
    top.write_text("tests = 9\n")
    assert load_settings({"tests": 3}, top).tests == 3  # flags win over the file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[run]\ntests = 0\n", "run.tests must be between 1 and 1000, got 0"),
        ("[run]\niteratons = 2\n", "did you mean 'iterations'"),
        (
            '[sandbox]\nmode = "strnog"\n',
            "sandbox.mode must be one of strong, weak, got 'strnog' (did you mean 'strong'?)",
        ),
        ("max_cots = 1\n", "did you mean 'max-cost'"),
        ('[lm]\nmax-cost = "ten"\n', "lm.max-cost must be a number, got 'ten'"),
        ("[lm\n", "not valid TOML"),
    ],
)
def test_file_errors_name_the_key_as_written(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "selftaught.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=None) as caught:
        load_settings({}, path)
    assert message in str(caught.value)
    assert "Input should be" not in str(caught.value)  # never pydantic's words


def test_flag_errors_name_the_flag() -> None:
    with pytest.raises(UsageError) as caught:
        load_settings({"utility_budget": 0}, None, read_file=False)
    assert str(caught.value) == "--utility-budget must be between 1 and 10000, got 0"
    with pytest.raises(UsageError, match="--cache must be one of off, read-write, replay"):
        load_settings({"cache": "rw"}, None, read_file=False)
    with pytest.raises(UsageError, match="--improver-timeout must be greater than 0"):
        load_settings({"improver_timeout": 0.0}, None, read_file=False)


def test_config_dir_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory; give the settings file itself"):
        load_settings({}, tmp_path)
    with pytest.raises(UsageError, match="no such file"):
        load_settings({}, tmp_path / "nope.toml")


def test_a_level_that_ends_early_is_closed_at_what_was_done() -> None:
    tracker = Tracker()
    tracker.stage("iteration", 3)
    tracker.stage("candidate", 25)
    for _ in range(14):
        tracker.advance("candidate")  # the improver spent 14 of its 25 utility calls
    assert tracker.advance("iteration") == ["candidate"]
    assert (tracker.stages["candidate"].done, tracker.stages["candidate"].total) == (14, 14)
    assert tracker.stages["iteration"].total == 3  # the parent keeps its total until the work ends
    tracker.finish_all()
    assert "iteration 1/1" in tracker.line() and "candidate 14/14" in tracker.line()


@given(
    st.lists(st.tuples(st.sampled_from(["iteration", "candidate", "test"]), st.integers(0, 5)), max_size=40)
)
def test_after_the_end_every_level_is_at_100_percent(steps: list[tuple[str, int]]) -> None:
    tracker = Tracker()
    for name, amount in steps:
        if amount == 0:
            tracker.stage(name, 7)
        else:
            tracker.advance(name, amount)
    tracker.finish_all()
    for stage in tracker.stages.values():
        assert stage.total == stage.done


def test_plain_progress_writes_lines_and_a_final_one(capsys: pytest.CaptureFixture[str]) -> None:
    with PlainProgress(interval=0.05) as progress:
        progress.stage("test", 5)
        progress.advance("test", 2)
        progress.summary("best val 0.5")
        import time

        time.sleep(0.3)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "progress: test 2/5 | best val 0.5"
    assert err[-1] == "progress: test 2/2 | best val 0.5"


def test_unfinished_work_keeps_its_counts_and_says_how_it_ended(capsys: pytest.CaptureFixture[str]) -> None:
    """A run that failed in its second step: the last line reads as `runs` counts it (1 of 3 steps),
    not `iteration 1/1 | candidate 4/4 | test 0/0` as if every level had finished."""
    with PlainProgress(interval=60) as progress:
        progress.stage("iteration", 3)
        progress.stage("candidate", 25)
        progress.advance("iteration")
        progress.stage("candidate", 25)
        progress.advance("candidate", 4)
        progress.stage("test", 5)
        progress.ended("run failed")
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == "progress: iteration 1/3 | candidate 4/25 | test 0/5 | run failed"


def test_an_interrupted_display_says_so_and_a_level_closed_empty_is_left_out() -> None:
    tracker = Tracker()
    tracker.stage("iteration", 2)
    tracker.stage("test", 5)
    tracker.advance("iteration")  # closes "test" at 0 done: nothing to show
    assert tracker.line() == "progress: iteration 1/2"
    tracker.close(KeyboardInterrupt)
    assert tracker.line() == "progress: iteration 1/2 | interrupted"
    finished = Tracker()
    finished.stage("iteration", 2)
    finished.advance("iteration", 2)
    finished.close(None)
    assert finished.line() == "progress: iteration 2/2"


def test_the_terminal_bars_leave_out_a_level_closed_empty() -> None:
    """The rich display shows what the plain line shows: no "0/0" bar for a level closed with nothing done."""
    display = RichProgress()
    with display:
        display.stage("iteration", 2)
        display.stage("test", 5)
        display.advance("iteration")  # closes "test" at 0 done
        shown = {
            task.description: (task.visible, task.completed, task.total) for task in display._progress.tasks
        }
    assert shown == {"iteration": (True, 1, 2), "test": (False, 0, 0)}
