"""Text from the store or from a file, made harmless for a terminal.

Everything a person or a file put into the store (an incident title, a display name, a reason, a note, a scenario
title) can reach other people's terminals. Two things must not happen: a Rich markup tag in it restyling the
output or crashing the command (`[/x]`), and a control character acting on the terminal (an escape sequence
clearing the screen or faking a line, a carriage return overwriting one, a bidirectional override reordering
it). `clean` shows every such character as a visible escape (`\\x1b`, `\\u202e`) instead; the CLI's consoles do
not interpret markup.
"""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL, C1 controls, and the bidirectional embedding, override and isolate marks.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object) -> str:
    """`value` as text with every control character shown as a visible escape instead of acting on a terminal."""
    return _UNSAFE.sub(_visible, str(value))


__all__ = ["clean"]
