"""EVOLVE-BLOCK: the part of an OpenEvolve `initial_program.py` that evolves, cut out and spliced back.

If `initial_program.py` has one `# EVOLVE-BLOCK-START` ... `# EVOLVE-BLOCK-END` region, the program the
language model sees and returns is the code *inside* it; the code outside stays fixed and is spliced back
around every candidate before it is evaluated (a candidate that repeats the markers has its block taken
out first, so edits outside the block never reach the evaluator). Kept apart because it is pure text
work that the task, its loader and the run's reports all need, with no sandbox or file behind it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selftaught.errors import UsageError

START_MARKER = "# EVOLVE-BLOCK-START"
END_MARKER = "# EVOLVE-BLOCK-END"
_MARKER_LINE = re.compile(r"^[ \t]*# EVOLVE-BLOCK-(START|END)[^\n]*$", re.MULTILINE)


@dataclass(frozen=True)
class EvolveBlock:
    """`initial_program.py` cut at its EVOLVE-BLOCK markers (prefix and suffix include the markers)."""

    prefix: str
    block: str
    suffix: str

    @property
    def has_markers(self) -> bool:
        return bool(self.prefix or self.suffix)

    def splice(self, candidate: str) -> str:
        """The full program for a candidate block (a candidate holding the markers gives up its block)."""
        if not self.has_markers:
            return candidate
        inner = split_evolve_block(candidate, where="candidate", strict=False)
        block = inner.block if inner.has_markers else candidate
        return self.prefix + _framed_like(block, self.block) + self.suffix


def _framed_like(block: str, original: str) -> str:
    """`block` with the blank lines that framed `original` (before its first line and before the END
    marker): replies lose them, and the file must not change outside the code that did."""
    lead = original[: len(original) - len(original.lstrip("\n"))]
    trail = original[len(original.rstrip()) :] or "\n"
    core = block.rstrip().lstrip("\n")
    if not core:
        return block if block.endswith("\n") or not block else block + "\n"
    return lead + core + (trail if trail.startswith("\n") else "\n")


def split_evolve_block(text: str, *, where: str, strict: bool = True) -> EvolveBlock:
    """Cut `text` at its one EVOLVE-BLOCK; no markers means the whole text evolves.

    Strict (for the task's own file): unpaired, reversed or repeated markers are a `UsageError`.
    Not strict (for LM answers): anything but one clean block counts as "no markers".
    """
    markers = list(_MARKER_LINE.finditer(text))
    kinds = [m.group(1) for m in markers]
    if not markers:
        return EvolveBlock("", text, "")
    if kinds != ["START", "END"]:
        if not strict:
            return EvolveBlock("", text, "")
        if kinds.count("START") > 1 or kinds.count("END") > 1:
            raise UsageError(f"{where}: more than one EVOLVE-BLOCK; selftaught supports exactly one")
        missing = "END" if kinds == ["START"] else "START" if kinds == ["END"] else "START before END"
        raise UsageError(f"{where}: EVOLVE-BLOCK markers are not paired (need # EVOLVE-BLOCK-{missing})")
    start, end = markers
    prefix_end = text.find("\n", start.end())
    prefix_end = len(text) if prefix_end == -1 else prefix_end + 1
    block = text[prefix_end : end.start()]
    line_start = text.rfind("\n", 0, end.start()) + 1
    return EvolveBlock(text[:prefix_end], block, text[line_start:])
