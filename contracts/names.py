"""Unit names as people write them: two spellings of one name are the same name."""

from __future__ import annotations


def name_key(name: str | None) -> str:
    """Spaces, full-width brackets and letters, and case do not make a different name."""
    if not name:
        return ""
    text = "".join(name.split())
    text = text.translate({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)})  # full-width → ASCII
    return text.upper()
