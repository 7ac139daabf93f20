"""When an entry's result is public, and what its unit and recommending unit see of its line before that.

Review shows a grade outside the organizer's staff once the entry is on the public notice (公示) or published,
and not after its result was withdrawn (`GET /seasons/{id}/results`); stats answers the same.
"""

from __future__ import annotations

from typing import Any

PUBLIC_PROGRESS = frozenset({"on_notice", "published"})
# what carries the result: the grade band with the combined score, each round's score, rank and outcome
RESULT_FIELDS = ("grade", "rounds")


def result_is_public(line: dict[str, Any]) -> bool:
    progress = set(line.get("progress") or ())
    return bool(progress & PUBLIC_PROGRESS) and "result_withdrawn" not in progress


def before_publication(line: dict[str, Any]) -> dict[str, Any]:
    """The line as its owner sees it: whole once the result is public, without the result before."""
    if result_is_public(line):
        return line
    return {key: value for key, value in line.items() if key not in RESULT_FIELDS} | {
        "grade": None, "result_public": False}
