"""The HTML page shell: inline CSS and JS, navigation, and the small formatting helpers sections share.

Why everything inline: a report is mailed, attached to issues and opened on machines without network
or the package; one file with no external reference (no CDN, no fonts, no images by URL) always opens.
Numbers are written twice: formatted for people, and exact in `data-value` so tests and scripts can
check them against the store without parsing formatted text.
"""

from __future__ import annotations

import datetime as dt

from selftaught._version import __version__
from selftaught.report.code_view import css as pygments_css
from selftaught.report.code_view import escape

_CSS = """
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#ffffff; --soft:#f6f8fa; --accent:#1f6feb;
        --warn:#9a6700; --warnbg:#fff8c5; --bad:#cf222e; --good:#1a7f37; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color:var(--fg); background:var(--bg); }
header.top { padding: 18px 28px 10px; border-bottom: 1px solid var(--line); background: var(--soft); }
header.top h1 { margin: 0 0 4px; font-size: 20px; }
header.top .sub { color: var(--muted); }
nav.toc { position: sticky; top: 0; background: var(--bg); border-bottom: 1px solid var(--line);
          padding: 6px 28px; z-index: 2; }
nav.toc a { margin-right: 14px; color: var(--accent); text-decoration: none; font-weight: 500; }
main { padding: 8px 28px 40px; max-width: 1200px; }
section { margin-top: 22px; }
section > h2 { font-size: 17px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 12.5px; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
th.num, td.pm { white-space: normal; }  /* headers may wrap; the numbers under them do not */
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); }
.nowrap { white-space: nowrap; }
.badge { display:inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
         border: 1px solid var(--line); background: var(--bg); white-space: nowrap; }
.badge.completed, .badge.adopted { color: var(--good); border-color: var(--good); }
.badge.running { color: var(--accent); border-color: var(--accent); }
.badge.failed, .badge.interrupted { color: var(--bad); border-color: var(--bad); }
.badge.kept, .badge.changed { color: var(--muted); border-color: var(--muted); }
.badge.stopped { color: var(--warn); border-color: var(--warn); }
.chip { display:inline-block; margin: 0 4px 2px 0; padding: 0 7px; border-radius: 9px; font-size: 12px;
        background: #ddf4ff; color: #0550ae; }
.chip.lm { background: #fbefff; color: #8250df; }
.chip[data-category="failure"], .chip[data-category="safety"] { background: #ffebe9; color: var(--bad); }
.chip[data-category="expected"] { background: var(--soft); color: var(--muted); }
.warning { background: var(--warnbg); color: var(--warn); border: 1px solid #d4a72c; padding: 8px 12px;
           border-radius: 6px; margin: 10px 0; }
.scroll { overflow-x: auto; max-width: 100%; }
td { overflow-wrap: anywhere; }
td.reason, td.evidence { min-width: 12em; max-width: 36em; }
main, header.top, summary { overflow-wrap: anywhere; }
ul.tree, ul.tree ul { list-style: none; margin: 4px 0; padding-left: 18px; border-left: 1px solid var(--line); }
ul.tree { padding-left: 8px; border-left: none; }
ul.tree li { margin: 3px 0; }
ul.tree li::before { content: "└ "; color: var(--muted); }
details.candidate { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; padding: 2px 10px; }
details.candidate:target { outline: 2px solid var(--accent); }
figure.plot { margin: 8px 0; }
figure.plot svg { max-width: 100%; height: auto; }
details.improver, details.run { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0;
                                 padding: 4px 10px; }
details > summary { cursor: pointer; padding: 4px 0; }
.tabs button { font: inherit; font-size: 12px; padding: 2px 10px; margin-right: 4px; border-radius: 5px;
               border: 1px solid var(--line); background: var(--soft); cursor: pointer; }
.tabs button.active { background: var(--accent); color: #fff; border-color: var(--accent); }
.pane[hidden] { display: none; }
.hl { font-size: 12px; overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
.hl pre { margin: 0; padding: 8px 10px; }
pre.cmd { background: var(--soft); padding: 8px 10px; border-radius: 6px; overflow-x: auto; }
.evidence { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.toolbar button { font: inherit; font-size: 12px; margin-right: 6px; }
footer { color: var(--muted); padding: 10px 28px 30px; font-size: 12px; }
pre.code { font-size: 12px; background: var(--soft); padding: 8px 10px; border-radius: 6px; overflow-x: auto;
           white-space: pre; }
details.program { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; padding: 2px 10px; }
.live { color: var(--good); font-weight: 600; }
.live.stale { color: var(--warn); }
"""

PAGE_JS = """
(function () {
  function showPane(group, name) {
    group.querySelectorAll('.tabs button').forEach(function (b) {
      b.classList.toggle('active', b.dataset.tab === name);
    });
    group.querySelectorAll('.pane').forEach(function (p) { p.hidden = p.dataset.pane !== name; });
  }
  // Wires tabs and expand/collapse inside `root`; the live view calls it again on each new body.
  function bind(root) {
    root.querySelectorAll('.tabbed').forEach(function (group) {
      group.querySelectorAll('.tabs button').forEach(function (button) {
        button.addEventListener('click', function () { showPane(group, button.dataset.tab); });
      });
      var first = group.querySelector('.tabs button');
      if (first) { showPane(group, first.dataset.tab); }
    });
    function setAll(open) {
      document.querySelectorAll('details.improver').forEach(function (d) { d.open = open; });
    }
    var expand = root.querySelector('#expand-all');
    var collapse = root.querySelector('#collapse-all');
    if (expand) { expand.addEventListener('click', function () { setAll(true); }); }
    if (collapse) { collapse.addEventListener('click', function () { setAll(false); }); }
  }
  window.selftaughtBind = bind;
  document.addEventListener('DOMContentLoaded', function () {
    bind(document);
    // A link to a candidate or an improver opens it and every block around it, then scrolls to it.
    function reveal() {
      var target = location.hash ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
      for (var node = target; node; node = node.parentElement) {
        if (node.tagName === 'DETAILS') { node.open = true; }
      }
      if (target) { target.scrollIntoView(); }
    }
    window.addEventListener('hashchange', reveal);
    reveal();
    document.body.dataset.ready = '1';
  });
})();
"""


def stylesheet() -> str:
    """The page's CSS (layout and pygments highlighting): inline in a report, a file in the live view."""
    return f"{_CSS}\n{pygments_css()}"


def num(value: float | int | None, digits: int = 4, *, tag: str = "td") -> str:
    """A numeric cell: formatted text, exact value in `data-value` (empty for None)."""
    if value is None:
        return f'<{tag} class="num" data-value="">-</{tag}>'
    text = str(value) if isinstance(value, int) else f"{value:.{digits}f}"
    return f'<{tag} class="num" data-value="{value!r}">{text}</{tag}>'


def cost(value: float, known: bool, digits: int = 4) -> str:
    """A cost cell: the dollars, or "unknown" for a model with no known price (its 0 was never counted)."""
    if known:
        return num(value, digits)
    return (
        '<td class="num muted" data-value="" title="price unknown: give it with --prices-file">unknown</td>'
    )


def mean_se(mean: float, stderr: float, digits: int = 4) -> str:
    """`mean ± se` as a cell with both exact values as data attributes."""
    # The cell may break before "±" on a narrow page (each half stays whole), so wide tables fit.
    return (
        f'<td class="num pm" data-value="{mean!r}" data-stderr="{stderr!r}">'
        f'<span class="nowrap">{mean:.{digits}f}</span><wbr><span class="nowrap"> ± {stderr:.{digits}f}</span></td>'
    )


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def badge(text: str) -> str:
    """A status word in a coloured frame; its class is the first word ("changed, not better": changed)."""
    kind = text.split(",")[0].split()[0] if text.strip() else text
    return f'<span class="badge {escape(kind)}">{escape(text)}</span>'


def table(
    headers: list[str], rows: list[str], *, ident: str | None = None, numeric: set[int] | None = None
) -> str:
    """A table from header names and pre-rendered `<tr>` rows; `numeric` marks right-aligned columns."""
    numeric = numeric or set()
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    attr = f' id="{escape(ident)}"' if ident else ""
    return (
        f'<div class="scroll"><table{attr}><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>"
    )


def section(ident: str, title: str, body: str) -> str:
    return f'<section id="{escape(ident)}"><h2>{escape(title)}</h2>{body}</section>'


def figure(svg: str, name: str, caption: str) -> str:
    return f'<figure class="plot" data-plot="{escape(name)}">{svg}<figcaption class="muted">{escape(caption)}</figcaption></figure>'


def document(
    title: str,
    subtitle: str,
    nav: list[tuple[str, str]],
    body: str,
    *,
    warnings: tuple[str, ...] = (),
    kind: str = "run",
) -> str:
    """The whole page. `nav` is [(section id, label)]."""
    links = "".join(f'<a href="#{escape(ident)}">{escape(label)}</a>' for ident, label in nav)
    notes = "".join(f'<div class="warning" role="status">{escape(text)}</div>' for text in warnings)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{stylesheet()}</style></head>"
        f'<body data-report="{escape(kind)}"><header class="top"><h1>{escape(title)}</h1>'
        f'<div class="sub">{subtitle}</div>{notes}</header><nav class="toc">{links}</nav><main>{body}</main>'
        f"<footer>selftaught {escape(__version__)} report, written "
        f"{escape(when(dt.datetime.now(dt.UTC).timestamp()))}; self-contained (no network needed).</footer>"
        f"<script>{PAGE_JS}</script></body></html>\n"
    )
