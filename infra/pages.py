"""A page of a list as every service answers it: the total, the window asked for, and the items."""

from __future__ import annotations

from typing import Any


def page(total: int, skip: int, limit: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total": total, "skip": skip, "limit": limit, "items": items}


def empty_page(skip: int, limit: int) -> dict[str, Any]:
    """A filter that asks outside the caller's scope selects nothing."""
    return page(0, skip, limit, [])
