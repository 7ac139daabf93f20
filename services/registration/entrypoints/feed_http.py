"""Registration's part of provincial feed intake: `registration` records become unit registrations."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request

from infra.feeds import FeedIntake, FeedLine
from infra.feeds.routes import feed_router
from services.registration.domain.unit_registration import unit_registration_id


async def _intake(request: Request, _: Sequence[FeedLine]) -> FeedIntake:
    application = request.app.state.application
    return FeedIntake(
        application, "registration", {"registration": application.take_feed_registration},
        touches={"registration": lambda record: [
            unit_registration_id(record.season, str(record.data["credit_code"]).strip().upper())]},
    )


def build_feed_router() -> APIRouter:
    return feed_router("registration", _intake)
