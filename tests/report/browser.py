"""Headless Chromium for report tests, with no new dependency.

Why `--dump-dom` + `--enable-logging=stderr` and not a DevTools-protocol client: the checks we need are
(1) the page's DOM after its scripts ran and (2) every console message. Chromium prints the serialized
DOM after load with `--dump-dom`, and with `--enable-logging=stderr --v=0` it writes each console
message (errors, uncaught exceptions, failed resource loads) as an `INFO:CONSOLE` line on stderr. Both
are plain process output, so no websocket client is needed; `--screenshot` covers the artefact.
A tiny stdlib HTML parser then lets tests query the dumped DOM by tag, id, class and attributes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--enable-logging=stderr",
    "--v=0",
)


def available() -> bool:
    return Path(CHROMIUM).is_file()


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None
    text_parts: list[str] = field(default_factory=list)

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(
        self,
        tag: str | None = None,
        *,
        cls: str | None = None,
        where: Callable[[Node], bool] | None = None,
        **attrs: str,
    ) -> list[Node]:
        found = []
        for node in self.iter():
            if tag is not None and node.tag != tag:
                continue
            if cls is not None and cls not in node.attrs.get("class", "").split():
                continue
            if any(node.attrs.get(key.replace("_", "-")) != value for key, value in attrs.items()):
                continue
            if where is not None and not where(node):
                continue
            found.append(node)
        return found

    def find(self, tag: str | None = None, **kwargs: str) -> Node:
        found = self.find_all(tag, **kwargs)  # type: ignore[arg-type]
        assert found, f"no <{tag}> with {kwargs}"
        return found[0]

    @property
    def text(self) -> str:
        return "".join(self.text_parts) + "".join(child.text for child in self.children)


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {key: value or "" for key, value in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in _VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(
            Node(tag, {key: value or "" for key, value in attrs}, parent=self.current)
        )

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        # Text is kept in order with children only approximately; tests read leaf text, which is exact.
        self.current.text_parts.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


@dataclass
class LoadedPage:
    dom: Node
    html: str
    console: list[str]


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def load(
    page: Path, *, screenshot: Path | None = None, width: int = 1280, height: int = 2200, timeout: float = 90
) -> LoadedPage:
    """Open `page` in headless Chromium: the DOM after scripts ran, every console message, and optionally
    a screenshot (one browser process does all three)."""
    args = ["--virtual-time-budget=3000", "--dump-dom"]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        args += [
            f"--window-size={width},{height}",
            "--hide-scrollbars",
            f"--screenshot={screenshot.resolve()}",
        ]
    done = _run([*args, page.resolve().as_uri()], timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    if screenshot is not None:
        assert screenshot.is_file(), done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return LoadedPage(parse(done.stdout), done.stdout, console)
