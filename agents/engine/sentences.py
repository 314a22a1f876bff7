"""Where a streamed text may stop: after a complete sentence, never inside one."""

from __future__ import annotations

import re

SENTENCE_END = re.compile(r"[.!?:\n]\s")


def complete_up_to(text: str, start: int = 0) -> int:
    """End of the last complete sentence of ``text`` after ``start`` (``start`` when there is none)."""
    return max((m.end() for m in SENTENCE_END.finditer(text, start)), default=start)
