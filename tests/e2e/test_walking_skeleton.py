"""A unit registered over HTTP travels the whole way: registration's store, registration.events,
registration's own projection, and the projections of submission, review and stats."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from qcp.demo import demo_registration, demo_season
from tests.harness import eventually


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_registration_reaches_every_service(platform, tokens) -> None:
    now = datetime.now(UTC)
    year = now.year + 1  # a season of its own: other e2e tests open this year's
    season_id = f"310000-{year}-qc_group"
    organizer = bearer(tokens.mint("staff-1", "organizer", "310000"))
    form = demo_registration(2)
    unit = bearer(tokens.mint("promoter-2", "unit", form["credit_code"]))
    async with httpx.AsyncClient(timeout=30) as client:
        registration = platform.url("registration")
        opened = await client.post(f"{registration}/seasons", json=demo_season(year, now), headers=organizer)
        assert opened.status_code == 201, opened.text

        # refused before anything is stored: no token, a forged token, an unknown field, a wrong type
        assert (await client.post(f"{registration}/seasons/{season_id}/registrations", json=form)).status_code == 401
        forged = bearer(tokens.mint("x", "unit", form["credit_code"]) + "tampered")
        assert (await client.post(f"{registration}/seasons/{season_id}/registrations", json=form, headers=forged)).status_code == 401
        unknown = await client.post(
            f"{registration}/seasons/{season_id}/registrations", json=form | {"favourite": 1}, headers=unit
        )
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "favourite"
        wrong_type = await client.post(
            f"{registration}/seasons/{season_id}/registrations", json=form | {"member": "perhaps"}, headers=unit
        )
        assert wrong_type.status_code == 422 and wrong_type.json()["errors"][0]["field"] == "member"
        bad_mobile = await client.post(
            f"{registration}/seasons/{season_id}/registrations",
            json=form | {"promoter": form["promoter"] | {"mobile": "0211234567"}},
            headers=unit,
        )
        assert bad_mobile.status_code == 422 and bad_mobile.json()["errors"][0]["field"] == "promoter.mobile"
        other_unit = await client.post(
            f"{registration}/seasons/{season_id}/registrations", json=demo_registration(3), headers=unit
        )
        assert other_unit.status_code == 403

        registered = await client.post(f"{registration}/seasons/{season_id}/registrations", json=form, headers=unit)
        assert registered.status_code == 201, registered.text
        assert registered.json()["event"] == "UnitRegistered"

        async def get(url: str) -> dict | None:
            response = await client.get(url, headers=organizer)
            return response.json() if response.status_code == 200 else None

        own = await eventually(lambda: get(f"{registration}/seasons/{season_id}/registrations/{form['credit_code']}"))
        assert own["unit_name"] == form["unit_name"] and own["registered_by"]["id"] == "promoter-2"
        assert own["channel"] == "unit" and own["version"] == 1

        listed = await get(f"{registration}/seasons/{season_id}/registrations")
        assert listed["total"] == 1, "the refused requests stored nothing"

        known = await eventually(
            lambda: get(f"{platform.url('submission')}/seasons/{season_id}/units/{form['credit_code']}")
        )
        assert known["unit_name"] == form["unit_name"]
        async def review_counts_it() -> dict | None:
            season = await get(f"{platform.url('review')}/seasons/{season_id}")
            return season if season and season["units_registered"] == 1 else None

        review_season = await eventually(review_counts_it)
        assert review_season["season_id"] == season_id

        async def overview_counts_it() -> dict | None:
            report = await get(f"{platform.url('stats')}/seasons/{season_id}/overview")
            return report if report and report["registrations"] == 1 else None

        overview = await eventually(overview_counts_it)
        assert overview["registrations_by_unit_nature"] == [{"code": "joint_venture", "label": "合资", "count": 1}]

        masked = await client.get(
            f"{registration}/seasons/{season_id}/registrations/{form['credit_code']}",
            headers=bearer(tokens.mint("auditor-1", "auditor", "CAQ")),
        )
        assert masked.json()["promoter"]["mobile"] == form["promoter"]["mobile"][:3] + "****" + form["promoter"]["mobile"][-4:]

        missing = await client.get(f"{platform.url('stats')}/seasons/310000-1999-team/overview", headers=organizer)
        assert missing.status_code == 404 and "310000-1999-team" in missing.json()["detail"]


async def test_every_service_exposes_health_readiness_metrics_and_docs(platform) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for service in ("registration", "submission", "review", "stats"):
            api = platform.url(service)
            assert (await client.get(f"{api}/health")).json()["status"] == "ok"
            ready = (await client.get(f"{api}/ready")).json()
            assert ready["ready"] is True and set(ready["checks"]) >= {"kafka", "mongodb"}
            assert (await client.get(f"{api}/docs")).status_code == 200
            assert "qcp_http_request_duration_seconds" in (await client.get(f"{api}/metrics")).text
            worker_metrics = (await client.get(f"{platform.worker_url(service)}/metrics")).text
            assert "qcp_dead_letters_total" in worker_metrics and "qcp_consumer_lag_messages" in worker_metrics
        relay_metrics = (await client.get(f"{platform.worker_url('registration')}/metrics")).text
        assert "qcp_events_relayed_total" in relay_metrics and "qcp_relay_lag_events" in relay_metrics
