"""The `helpers` module that improvers import inside the sandbox (`from helpers import extract_code`).

Compatible with the STOP paper's helper, so published improvers run unchanged, and more forgiving:
the rules are in `selftaught.codetext.reply_code` (also used on the host, so every layer reads replies the same way).
One difference a published improver may notice: where the paper's helper returns None (no block, an
untagged block, a reply cut inside its block), this one returns the program it can find, or "".
"""

from __future__ import annotations

if __package__:  # imported on the host as selftaught.sandbox.inside.helpers
    from selftaught.codetext.reply_code import code_blocks, largest_code_block
else:  # inside the sandbox, where the codetext directory is on sys.path (sandbox/launch.py)
    from reply_code import code_blocks, largest_code_block  # type: ignore[no-redef]

__all__ = ["all_code_blocks", "code_blocks", "extract_code", "largest_code_block"]


def extract_code(responses):
    """The program of each response (its largest fenced block): a list in, a list out; a string in,
    a string out ("" when a response carries no program)."""
    if isinstance(responses, str):
        return largest_code_block(responses)
    if isinstance(responses, list | tuple):
        return [largest_code_block(response) for response in responses]
    return ""


def all_code_blocks(responses):
    """Every outermost fenced block of each response: a list of strings per response (a string in,
    one list out)."""
    if isinstance(responses, str):
        return code_blocks(responses)
    if isinstance(responses, list | tuple):
        return [code_blocks(response) for response in responses]
    return []
