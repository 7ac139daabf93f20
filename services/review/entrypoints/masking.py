"""An entry's review as a caller may see it, under the one masking policy (infra.masking).

The personal data on a review belongs to two kinds of owner: the 推荐表 (its judges' mobiles and e-mails, the form
filler's phone) to the recommending unit that filled it, and each objection's contact to whoever filed it. The
staff of the season's organizer see all of it; an owner sees its own part; everyone else, the entry's unit, the
national association and auditors included, sees it masked, and the answer says `masked: true`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.codes import Role
from infra.authorization import Caller
from infra.masking import masked, sees_unmasked


def review_for(caller: Caller | None, review: Mapping[str, Any]) -> dict[str, Any]:
    """The review with each part this caller may not see unmasked masked."""
    if sees_unmasked(caller, {"season_id": review.get("season_id"), "organizer": review.get("organizer")}):
        return dict(review)
    shown: dict[str, Any] = masked(review)
    recommendation = review.get("recommendation")
    if recommendation is not None and sees_unmasked(caller, _recommending_unit(review)):
        shown["recommendation"] = recommendation
    for objection_id, objection in (review.get("objections") or {}).items():
        if sees_unmasked(caller, _objector(review, objection)):
            shown["objections"][objection_id] = objection
    if shown != review:
        shown["masked"] = True
    return shown


def _recommending_unit(review: Mapping[str, Any]) -> dict[str, Any]:
    return {"season_id": review.get("season_id"), "recommender_id": review.get("recommender_id")}


def _objector(review: Mapping[str, Any], objection: Mapping[str, Any]) -> dict[str, Any]:
    """Who filed the objection, as the owner of its contact: a unit by its credit code, a recommending unit by its id."""
    actor = (objection.get("filed") or {}).get("actor") or {}
    owner: dict[str, Any] = {"season_id": review.get("season_id")}
    if actor.get("role") == Role.UNIT.value:
        owner["credit_code"] = actor.get("org")
    elif actor.get("role") == Role.RECOMMENDER.value:
        owner["recommender_id"] = actor.get("org")
    return owner
