"""Registration's part of provincial feed intake: `registration` records become unit registrations."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request

from infra.feeds import FeedIntake, FeedLine, feed_router


async def _intake(request: Request, _: Sequence[FeedLine]) -> FeedIntake:
    application = request.app.state.application
    return FeedIntake(application, "registration", {"registration": application.take_feed_registration})


def build_feed_router() -> APIRouter:
    return feed_router("registration", _intake)
