"""Matplotlib figures as inline SVG strings.

Why SVG inline: the report must open without a network or side files, and SVG stays sharp when zoomed
and small for line plots. Text is kept as text (`svg.fonttype = none`) so plot labels are searchable in
the DOM, and every element id is prefixed per figure so several plots in one page never share an id.
"""

from __future__ import annotations

import functools
import io
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # never a GUI backend: reports are written by a CLI, possibly on a server
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from selftaught.report.model import AggregatePoint, GroupSummary, RunSummary

VAL_COLOR = "#1f6feb"
TEST_COLOR = "#d97706"
WIDE = 8.8  # inches: a plot's axes plus its legend at the right
_MARKERS = ("o", "s", "^", "D", "v", "P")
_DASHES: tuple[Any, ...] = ("-", "--", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 3)))
PALETTE = ("#1f6feb", "#d97706", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
_STYLE: Any = {  # rc parameters (typed Any: matplotlib's stubs want literal keys)
    "svg.fonttype": "none",
    "svg.hashsalt": "selftaught-report",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


@dataclass(frozen=True)
class Curve:
    """One labelled line with an optional ± band (standard errors) for overlaid comparisons."""

    label: str
    t: Sequence[int]
    mean: Sequence[float]
    stderr: Sequence[float]


_DRAWN: OrderedDict[Hashable, str] = OrderedDict()
_DRAWN_LOCK = threading.Lock()
_DRAWN_MAX = 64


def remembered(data: Callable[[RunSummary], Hashable]) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Draw a run's plot once per distinct `data(run)` (what the plot shows), then answer from memory.

    Why: the live view draws a run's page again whenever the run commits, and most commits (an LM call,
    an event) change no plot; drawing is most of a page's cost. Keys hold the plotted numbers themselves,
    so a plot can only be reused for the same picture. A small LRU bounds the memory.
    """

    def wrap(draw: Callable[..., str]) -> Callable[..., str]:
        @functools.wraps(draw)
        def cached(run: RunSummary, prefix: str | None = None) -> str:
            key = (draw.__name__, prefix, data(run))
            with _DRAWN_LOCK:
                if key in _DRAWN:
                    _DRAWN.move_to_end(key)
                    return _DRAWN[key]
            svg = draw(run) if prefix is None else draw(run, prefix)
            with _DRAWN_LOCK:
                _DRAWN[key] = svg
                while len(_DRAWN) > _DRAWN_MAX:
                    _DRAWN.popitem(last=False)
            return svg

        return cached

    return wrap


def _curve_data(run: RunSummary) -> Hashable:
    its = tuple(
        (it.t, it.status, it.meta_utility_val, it.stderr_val, it.meta_utility_test, it.stderr_test)
        for it in run.iterations
    )
    return run.task, its, tuple((c.t, c.value_val) for c in run.candidates if c.t is not None and c.proposed)


def _usage_data(run: RunSummary) -> Hashable:
    return tuple((it.t, it.tokens_in, it.tokens_out, it.wall_seconds) for it in run.iterations)


def _budget_data(run: RunSummary) -> Hashable:
    lm_calls = run.config.get("lm_calls")
    return run.task, lm_calls if isinstance(lm_calls, int) else None, run.budget_curves


def to_svg(fig: Figure, prefix: str) -> str:
    """The figure as an `<svg>` element string with ids made unique by `prefix`."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for ident in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f'id="{ident}"', f'id="{prefix}-{ident}"')
        svg = svg.replace(f"#{ident})", f"#{prefix}-{ident})").replace(f'"#{ident}"', f'"#{prefix}-{ident}"')
    return svg


def _band(
    ax: Axes,
    t: Sequence[int],
    mean: Sequence[float],
    stderr: Sequence[float],
    color: str,
    label: str,
    *,
    marker: str = "o",
    linestyle: str = "-",
) -> None:
    low = [m - s for m, s in zip(mean, stderr, strict=True)]
    high = [m + s for m, s in zip(mean, stderr, strict=True)]
    ax.fill_between(t, low, high, color=color, alpha=0.18, linewidth=0)
    ax.plot(t, mean, marker=marker, color=color, label=label, linestyle=linestyle)


def _finish(ax: Axes, fig: Figure, title: str, ts: Sequence[int]) -> None:
    ax.set_xlabel("iteration t")
    ax.set_ylabel("meta-utility")
    ax.set_title(title)
    if ts:
        ax.set_xticks(sorted(set(ts)))
    _legend_outside(ax)
    fig.tight_layout()


def _legend_outside(ax: Axes) -> None:
    """The legend to the right of the axes, never over a line or a point (placed inside, `best` put it
    across the candidates and the curves' ends)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, borderaxespad=0)


def value_limits(values: Sequence[float]) -> tuple[float, float] | None:
    """y-axis limits that fit `values` with a margin (a flat curve still gets a readable span)."""
    if not values:
        return None
    low, high = min(values), max(values)
    margin = max(high - low, 0.02) * 0.15
    return low - margin, high + margin


@remembered(_curve_data)
def run_curve_svg(run: RunSummary, prefix: str = "curve") -> str:
    """Meta-utility per iteration (validation and test, ± standard error over tests) plus every candidate.

    Candidates ("t=<T>" contexts) are drawn as grey points at x=T, slightly jittered so equal values
    stay visible; iterations that kept their parent are marked with an open square. The y axis fits
    the curves and the scoring candidates; candidates that scored zero (every improver run failed or
    returned nothing useful) are drawn apart, as red crosses on a strip along the bottom, so a few
    failures neither squash the curve against the top nor pass for low scores.
    """
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(WIDE, 3.6))
        its = run.iterations
        ts = [it.t for it in its]
        candidates = [(c.t, c.value_val) for c in run.candidates if c.t is not None and c.proposed]
        scoring = [(t, value) for t, value in candidates if value != 0]
        zero = [t for t, value in candidates if value == 0]
        if scoring:
            ax.scatter(
                [t + ((i % 5) - 2) * 0.04 for i, (t, _) in enumerate(scoring)],
                [value for _, value in scoring],
                s=14,
                color="#9ca3af",
                alpha=0.8,
                zorder=1,
                label="candidate improvers (val)",
                gid="candidate-points",  # one <use> per point: a page counts what it draws
            )
        if its:
            _band(
                ax,
                ts,
                [it.meta_utility_val for it in its],
                [it.stderr_val for it in its],
                VAL_COLOR,
                "validation",
            )
            _band(
                ax,
                ts,
                [it.meta_utility_test for it in its],
                [it.stderr_test for it in its],
                TEST_COLOR,
                "test",
                marker="s",
                linestyle="--",
            )
            kept = [it for it in its if it.status == "kept"]
            if kept:
                ax.scatter(
                    [it.t for it in kept],
                    [it.meta_utility_val for it in kept],
                    s=70,
                    facecolors="none",
                    edgecolors="#dc2626",
                    marker="s",
                    zorder=3,
                    label="kept (the parent improver stays)",
                )
        else:
            ax.text(0.5, 0.5, "no iteration finished yet", ha="center", va="center", transform=ax.transAxes)
        values = [
            v
            for it in its
            for v in (
                it.meta_utility_val - it.stderr_val,
                it.meta_utility_val + it.stderr_val,
                it.meta_utility_test - it.stderr_test,
                it.meta_utility_test + it.stderr_test,
            )
        ]
        limits = value_limits(values + [value for _, value in scoring])
        if limits is not None:
            low, high = limits
            # Leave room at the bottom for the zero-score strip, outside the data's range.
            ax.set_ylim(low - (0.12 * (high - low) if zero else 0.0), high)
        if zero:
            ax.add_patch(
                Rectangle(
                    (0.0, 0.0), 1.0, 0.07, transform=ax.transAxes, color="#fee2e2", zorder=0, linewidth=0
                )
            )
            ax.scatter(
                [t + ((i % 5) - 2) * 0.04 for i, t in enumerate(zero)],
                [0.035] * len(zero),
                transform=ax.get_xaxis_transform(),
                marker="x",
                s=22,
                color="#dc2626",
                zorder=2,
                label=f"zero-score candidates ({len(zero)}, not to scale)",
                clip_on=False,
                gid="zero-candidates",
            )
        # The x axis reaches the step whose candidates are being scored (a run in progress).
        _finish(ax, fig, f"{run.task}: meta-utility per iteration", ts + [t for t, _ in candidates])
        return to_svg(fig, prefix)


def group_curve_svg(group: GroupSummary, prefix: str = "curve") -> str:
    """Mean ± standard error over the group's runs, each run as a thin line behind."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(WIDE, 3.6))
        for run in group.runs:
            ax.plot(
                [it.t for it in run.iterations],
                [it.meta_utility_val for it in run.iterations],
                color=VAL_COLOR,
                alpha=0.25,
                linewidth=0.8,
            )
        points: Sequence[AggregatePoint] = group.points
        ts = [p.t for p in points]
        if points:
            _band(
                ax,
                ts,
                [p.mean_val for p in points],
                [p.stderr_val for p in points],
                VAL_COLOR,
                f"validation (mean ± SE, {len(group.runs)} runs)",
            )
            _band(
                ax,
                ts,
                [p.mean_test for p in points],
                [p.stderr_test for p in points],
                TEST_COLOR,
                "test (mean ± SE)",
                marker="s",
                linestyle="--",
            )
        _finish(ax, fig, f"{group.task}: meta-utility over seeds", ts)
        return to_svg(fig, prefix)


def compare_curves_svg(
    curves: Sequence[Curve], test_curves: Sequence[Curve] | None, prefix: str = "compare"
) -> str:
    """Several runs or groups overlaid, each with its ± band: validation on the left, the held-out test
    split on the right (same y axis), or a note where the tasks have no test split."""
    with plt.rc_context(_STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(WIDE + 1.6, 3.8), sharey=True)
        for ax, drawn, title in (
            (left, curves, "validation meta-utility"),
            (right, test_curves or (), "test meta-utility"),
        ):
            all_t: list[int] = []
            for index, curve in enumerate(drawn):
                if curve.t:
                    color = PALETTE[index % len(PALETTE)]
                    marker = _MARKERS[index % len(_MARKERS)]
                    _band(ax, curve.t, curve.mean, curve.stderr, color, curve.label, marker=marker)
                    all_t.extend(curve.t)
            ax.set_xlabel("iteration t")
            ax.set_title(title)
            if all_t:
                ax.set_xticks(sorted(set(all_t)))
        left.set_ylabel("meta-utility")
        if test_curves is None:
            right.text(0.5, 0.5, "no test split", ha="center", va="center", transform=right.transAxes)
        handles, labels = left.get_legend_handles_labels()
        if handles:  # one legend for both panels, right of the test panel
            right.legend(
                handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False
            )
        fig.tight_layout()
        return to_svg(fig, prefix)


@remembered(_usage_data)
def usage_svg(run: RunSummary, prefix: str = "usage") -> str:
    """Tokens (in/out, stacked) and wall seconds per iteration: where the budget went."""
    with plt.rc_context(_STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(7.0, 2.6))
        ts = [it.t for it in run.iterations]
        tokens_in = [it.tokens_in for it in run.iterations]
        left.bar(ts, tokens_in, color=VAL_COLOR, label="tokens in")
        left.bar(
            ts,
            [it.tokens_out for it in run.iterations],
            bottom=tokens_in,
            color=TEST_COLOR,
            label="tokens out",
        )
        left.set_title("LM tokens per iteration")
        left.set_xlabel("iteration t")
        left.legend(fontsize=7, frameon=False)
        right.bar(ts, [it.wall_seconds for it in run.iterations], color="#6b7280")
        right.set_title("wall seconds per iteration")
        right.set_xlabel("iteration t")
        for ax in (left, right):
            if ts:
                ax.set_xticks(ts)
        fig.tight_layout()
        return to_svg(fig, prefix)


@remembered(_budget_data)
def budget_svg(run: RunSummary, prefix: str = "budget") -> str:
    """Score vs budget: per iteration's improver, the mean best-so-far validation utility over its tests
    against the LM calls spent (steps: the best only changes when a utility call finds better).

    The x axis spans the run's LM budget per improver run (`lm_calls`); after its last utility call a
    curve continues dotted (its best cannot change without another call). Curves that coincide stay
    visible through distinct, shrinking markers.
    """
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(WIDE, 3.6))
        stored = run.config.get("lm_calls")
        budget = max(
            [stored if isinstance(stored, int) else 0]
            + [x for curve in run.budget_curves for x in curve.lm_calls]
        )
        values: list[float] = []
        labels = run.status_labels()
        count = len(run.budget_curves)
        for index, curve in enumerate(run.budget_curves):
            color = PALETTE[index % len(PALETTE)]
            status = labels.get(curve.t, curve.status)
            label = f"t={curve.t} ({status}, {curve.tests} test{'s' if curve.tests != 1 else ''})"
            # Each iteration's curve is nudged sideways a little, so curves with equal values (common:
            # an improver that kept its parent's program) stay visible side by side.
            dodge = (index - (count - 1) / 2) * 0.06 * max(budget, 1) / 4
            xs, ys = [x + dodge for x in curve.lm_calls], list(curve.best)
            # One line per iteration with its own colour, marker and dash, so the legend shows all three
            # and coinciding curves can still be told apart where they overlap.
            ax.plot(
                xs,
                ys,
                drawstyle="steps-post",
                color=color,
                label=label,
                linewidth=2.0,
                linestyle=_DASHES[index % len(_DASHES)],
                marker=_MARKERS[index % len(_MARKERS)],
                markersize=max(4.0, 8.0 - 1.0 * index),
                markerfacecolor="none",
                markeredgewidth=1.5,
            )
            if xs[-1] < budget:
                ax.plot([xs[-1], budget], [ys[-1], ys[-1]], linestyle=":", color=color, linewidth=1.2)
            values.extend(ys)
        if not run.budget_curves:
            ax.text(
                0.5,
                0.5,
                "no utility call with a recorded budget",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
        limits = value_limits(values)
        if limits is not None:
            ax.set_ylim(*limits)
        ax.set_xlim(-0.05 * max(budget, 1), max(budget, 1) * 1.05)
        ax.set_xlabel("LM calls spent by the improver run")
        ax.set_ylabel("best utility so far (val)")
        ax.set_title(f"{run.task}: score vs budget per improver (mean over tests)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _legend_outside(ax)
        fig.tight_layout()
        return to_svg(fig, prefix)
