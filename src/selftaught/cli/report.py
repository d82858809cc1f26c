"""`selftaught report | compare`: see what happened in runs (HTML report, terminal summary, exports).

Thin: resolves ids, calls `selftaught.report`, prints. Progress goes to stderr, so `--format json|csv`
output on stdout stays machine-readable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from selftaught.cli import app, options
from selftaught.cli.output import console, is_terminal, note, write_raw
from selftaught.errors import UsageError
from selftaught.store import RunDir

if TYPE_CHECKING:
    from selftaught.report import GroupSummary, RunSummary


class Format(StrEnum):
    json = "json"
    csv = "csv"


HtmlOption = Annotated[Path | None, typer.Option("--html", help="Write the self-contained HTML report here.")]
FormatOption = Annotated[
    Format | None,
    typer.Option("--format", help="Print the numbers on stdout as json or csv (no terminal summary)."),
]


@contextmanager
def _status(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner on a terminal; nothing off it (a log keeps no spinner frames, errors stay one line)."""
    if is_terminal(sys.stderr):
        with console(stderr=True).status(message) as status:
            yield lambda text: status.update(text)
    else:
        yield lambda text: None


def _load(refs: list[str], runs_dir: Path) -> list[RunSummary | GroupSummary]:
    from selftaught.report.resolve import resolve

    items: list[RunSummary | GroupSummary] = []
    with _status("reading runs...") as update:
        for ref in refs:
            items.append(resolve(ref, runs_dir, on_load=lambda path: update(f"reading {path.name}...")))
    return items


def _default_html(item: RunSummary | GroupSummary, runs_dir: Path) -> Path:
    from selftaught.report import RunSummary

    if isinstance(item, RunSummary):
        return RunDir(item.path).report_file
    return runs_dir / f"{item.group_id}-report.html"


def model_asker(
    spec: str, *, api_key_env: str = "OPENAI_API_KEY", max_cost: float | None = None, max_tokens: int = 512
) -> tuple[Callable[[str], str], Callable[[], None]]:
    """`ask(prompt)` on a model spec (one budgeted call per prompt) and a `close()` for the client."""
    from selftaught.lm import ModelSettings, open_model
    from selftaught.report.lm_labels import EXPERTISE

    client = open_model(
        spec,
        ModelSettings(api_key_env=api_key_env, max_cost=max_cost, max_tokens=max_tokens, cache_mode="off"),
    )

    def ask(prompt: str) -> str:
        model = client.language_model(budget=1, max_responses_per_call=1, purpose="report/strategy-labels")
        answers = model.prompt(EXPERTISE, prompt, n_responses=1, temperature=0.0)
        return answers[0] if answers else ""

    return ask, client.close


def _label(
    item: RunSummary | GroupSummary, model: str, api_key_env: str, max_cost: float | None
) -> RunSummary | GroupSummary:
    from selftaught.report.lm_labels import with_lm_labels

    ask, close = model_asker(model, api_key_env=api_key_env, max_cost=max_cost)
    try:
        with _status(f"asking {model} to label strategies..."):
            return with_lm_labels(item, ask)
    finally:
        close()


def _export(items: list[RunSummary | GroupSummary], fmt: Format) -> None:
    from selftaught.report.export import to_csv_text, to_json_text

    write_raw(to_json_text(items) if fmt is Format.json else to_csv_text(items))


def _write(items: list[RunSummary | GroupSummary], path: Path) -> Path:
    from selftaught.report import render_html
    from selftaught.report.html import write_html  # matplotlib: loaded only when a page is rendered

    with _status("rendering plots and HTML..."):
        page = render_html(items[0] if len(items) == 1 else items)
        return write_html(page, path)


@app.command()
def report(
    run_id: Annotated[
        str,
        typer.Argument(
            help="A run id, a group id (the runs of one --seeds N invocation), or a run directory."
        ),
    ],
    html: HtmlOption = None,
    fmt: FormatOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    runs_dir: options.RunsDir = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Also ask this model (openai/<model>, optionally @<base_url>) to label each improver's strategies (shown apart from the static rules).",
        ),
    ] = None,
    api_key_env: options.ApiKeyEnv = None,
    max_cost: options.MaxCost = None,
) -> None:
    """Report a run or a group: terminal summary plus a self-contained HTML file (default: in the run's
    directory; not written with --format unless --html is given)."""
    if as_json and fmt is Format.csv:
        raise UsageError("--json and --format csv contradict each other")
    fmt = Format.json if as_json else fmt
    from selftaught.report.terminal import print_summary

    directory = options.runs_dir(runs_dir)
    [item] = _load([run_id], directory)
    if model is not None:
        item = _label(item, model, api_key_env or "OPENAI_API_KEY", max_cost)
    target = html if html is not None else (None if fmt is not None else _default_html(item, directory))
    written = _write([item], target) if target is not None else None
    if fmt is not None:
        _export([item], fmt)
        if written is not None:
            note(f"HTML report: {written}")
        return
    print_summary(console(), item)
    if written is not None:
        write_raw(f"HTML report: {written}")


@app.command()
def compare(
    refs: Annotated[list[str], typer.Argument(help="Two or more run ids or group ids.")],
    html: HtmlOption = None,
    fmt: FormatOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    runs_dir: options.RunsDir = None,
) -> None:
    """Put runs (or groups) side by side: a table and overlaid meta-utility curves (with --html)."""
    if len(refs) < 2:
        raise UsageError("compare needs at least two run or group ids")
    if as_json and fmt is Format.csv:
        raise UsageError("--json and --format csv contradict each other")
    fmt = Format.json if as_json else fmt
    from selftaught.report.terminal import print_comparison

    items = _load(refs, options.runs_dir(runs_dir))
    written = _write(items, html) if html is not None else None
    if fmt is not None:
        _export(items, fmt)
        if written is not None:
            note(f"HTML comparison: {written}")
        return
    print_comparison(console(), items)
    if written is not None:
        write_raw(f"HTML comparison: {written}")
