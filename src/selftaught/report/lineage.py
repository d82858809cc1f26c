"""The improver lineage of a run's report: which improver descends from which, and each one's code.

A section of its own because it is the one that shows programs: each improver as a collapsible block
(diff against its parent, its source, the strategies detected in it with their evidence), under a tree
of descent in which a kept step adds no node. `prefix` keeps element ids unique when one page holds
several runs (as in `sections`).
"""

from __future__ import annotations

from selftaught.report.code_view import diff_html, diff_stats, escape, source_html, unified_diff
from selftaught.report.model import Improver, RunSummary
from selftaught.report.page import badge, section, table


def strategy_chips(improver: Improver) -> str:
    if not improver.strategies:
        chips = '<span class="muted">no strategy detected</span>'
    else:
        chips = "".join(
            f'<span class="chip" data-strategy="{escape(hit.strategy)}" title="{escape(chr(10).join(hit.evidence))}">'
            f"{escape(hit.strategy)}</span>"
            for hit in improver.strategies
        )
    if improver.lm_labelled:
        labels = improver.lm_strategies
        chips += ' <span class="muted">LM:</span> ' + (
            '<span class="muted" data-lm-strategy="">no usable answer</span>'
            if labels is None
            else "".join(
                f'<span class="chip lm" data-lm-strategy="{escape(name)}">{escape(name)}</span>'
                for name in labels
            )
            or '<span class="muted" data-lm-strategy="">none</span>'
        )
    return chips


def improver_block(run: RunSummary, improver: Improver, prefix: str = "", *, expand: bool = False) -> str:
    """One improver, collapsible; `expand` opens it (the best improved one, so its diff is in view)."""
    it = next(item for item in run.iterations if item.t == improver.t)
    if improver.source is None:
        content = '<p class="warning">source missing from the store</p>'
        stats = ""
    else:
        parent_label = f"parent {improver.parent_sha[:8]}" if improver.parent_sha else "none"
        if improver.parent_source is not None:
            diff = unified_diff(
                improver.parent_source, improver.source, parent_label, f"t={improver.t} {improver.sha[:8]}"
            )
            added, removed = diff_stats(diff)
            stats = f' · <span class="muted">+{added} −{removed} lines</span>'
            diff_pane = diff_html(diff)
        else:
            stats = ""
            diff_pane = '<p class="muted">the seed improver has no parent</p>'
        evidence = "".join(
            f'<tr><td>{escape(hit.strategy)}</td><td class="evidence">{"<br>".join(escape(e) for e in hit.evidence)}</td></tr>'
            for hit in improver.strategies
        )
        evidence_table = table(["strategy", "evidence"], [evidence]) if evidence else ""
        content = (
            '<div class="tabbed"><div class="tabs"><button type="button" data-tab="diff">diff vs parent</button>'
            '<button type="button" data-tab="source">source</button></div>'
            f'<div class="pane diff" data-pane="diff">{diff_pane}</div>'
            f'<div class="pane source" data-pane="source">{source_html(improver.source)}</div></div>'
            + evidence_table
        )
    return (
        f'<details class="improver" id="{prefix}improver-t{improver.t}" data-t="{improver.t}" data-sha="{escape(improver.sha)}"'
        f"{' open' if expand else ''}>"
        f"<summary><strong>t={improver.t}</strong> {badge(improver.status)} "
        f"val {it.meta_utility_val:.4f} ± {it.stderr_val:.4f} · test {it.meta_utility_test:.4f} ± {it.stderr_test:.4f} · "
        f"<code>{escape(improver.sha[:10])}</code>{stats} · {strategy_chips(improver)}</summary>{content}</details>"
    )


def lineage_tree(run: RunSummary, prefix: str = "") -> str:
    """The improvers as a tree: each distinct improver under the one it was produced from.

    A kept step (the self-improvement failed) produces no new node; it is listed on the node it kept,
    so the tree shows which improvers actually descend from which.
    """
    first_t: dict[str, int] = {}
    kept_at: dict[str, list[int]] = {}
    children: dict[str | None, list[Improver]] = {}
    for improver in run.improvers:
        if improver.sha in first_t:
            kept_at.setdefault(improver.sha, []).append(improver.t)
            continue
        first_t[improver.sha] = improver.t
        parent = improver.parent_sha if improver.parent_sha in first_t else None
        children.setdefault(parent, []).append(improver)

    def node(improver: Improver) -> str:
        it = next(item for item in run.iterations if item.t == improver.t)
        kept = kept_at.get(improver.sha)
        kept_note = f' <span class="muted">kept at t={", ".join(map(str, kept))}</span>' if kept else ""
        below = "".join(node(child) for child in children.get(improver.sha, []))
        return (
            f'<li data-sha="{escape(improver.sha)}" data-t="{improver.t}"><a href="#{prefix}improver-t{improver.t}">'
            f"t={improver.t}</a> {badge(improver.status)} <code>{escape(improver.sha[:10])}</code> "
            f"val {it.meta_utility_val:.4f}{kept_note}" + (f"<ul>{below}</ul>" if below else "") + "</li>"
        )

    roots = "".join(node(improver) for improver in children.get(None, []))
    return f'<ul class="tree" id="{prefix}lineage-tree">{roots}</ul>' if roots else ""


def lineage_section(run: RunSummary, prefix: str = "", *, as_section: bool = True) -> str:
    if not run.improvers:
        body = '<p class="muted">No improver stored yet.</p>'
    else:
        body = lineage_tree(run, prefix)
        body += (
            '<p class="toolbar"><button type="button" id="expand-all">expand all</button>'
            '<button type="button" id="collapse-all">collapse all</button></p>'
            if as_section
            else ""
        )
        best = run.best
        opened = best.t if best is not None and best.t > 0 and best.status == "improved" else None
        body += "".join(
            improver_block(run, improver, prefix, expand=as_section and improver.t == opened)
            for improver in run.improvers
        )
    return section("lineage", "Improver lineage", body) if as_section else body
