"""`qcp audit check`: the comparison over pluggable digest sources, and the command's refusals."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from click.testing import CliRunner

from contracts import Envelope
from infra.digest import chain_report, head_of
from qcp.cli import cli
from qcp.audit_cli import DigestClient, run_check
from tests.unit.test_digest import AGGREGATE, EVENTS, envelope

OTHER = uuid.uuid4()
OTHER_EVENTS = [Envelope.model_validate(item.model_dump() | {"aggregate_id": OTHER}) for item in EVENTS[:2]]


def service(name: str, aggregates: dict[uuid.UUID, list[Envelope]]) -> DigestClient:
    """A service answering the digest routes from the given envelopes, as the real routes do."""

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/audit/digests":
            reports = [chain_report(str(key), value) for key, value in sorted(aggregates.items(), key=lambda i: str(i[0]))]
            skip, limit = int(request.url.params["skip"]), int(request.url.params["limit"])
            if not reports:
                return httpx.Response(404, json={"detail": "season unknown"})
            page = [head_of(item) for item in reports[skip : skip + limit]]
            return httpx.Response(200, json={"total": len(reports), "aggregates": page})
        if path.startswith("/audit/entries/"):
            return httpx.Response(200, json={"aggregates": [str(key) for key in aggregates]})
        aggregate_id = uuid.UUID(path.split("/")[3])
        if aggregate_id not in aggregates:
            return httpx.Response(404, json={"detail": "unknown"})
        return httpx.Response(200, json=chain_report(str(aggregate_id), aggregates[aggregate_id]))

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url=f"http://{name}")
    return DigestClient(name, client, {})


async def season(writers: list[DigestClient], stats: DigestClient) -> list[Any]:
    return await run_check(writers, stats, aggregate=None, entry=None, season="s")


async def test_agreeing_chains_are_ok_per_aggregate() -> None:
    writers = [service("submission", {AGGREGATE: EVENTS}), service("review", {OTHER: OTHER_EVENTS})]
    stats = service("stats", {AGGREGATE: EVENTS, OTHER: OTHER_EVENTS})
    checks = await season(writers, stats)
    assert [(item.aggregate_id, item.service, item.ok) for item in checks] == sorted(
        [(str(AGGREGATE), "submission", True), (str(OTHER), "review", True)])
    assert checks[0].line().startswith("OK ")


async def test_a_changed_event_is_named_with_both_digests() -> None:
    tampered = [*EVENTS[:3], envelope(4, payload={"total": "1"}), EVENTS[4]]
    checks = await season([service("submission", {AGGREGATE: EVENTS})], service("stats", {AGGREGATE: tampered}))
    (check,) = checks
    assert not check.ok and check.divergence is not None
    assert (check.divergence.version, check.divergence.event_id) == (4, str(EVENTS[3].event_id))
    assert check.line().startswith(f"DIVERGES  {AGGREGATE} submission at v4 event {EVENTS[3].event_id} ScoreRecorded")


async def test_events_missing_on_either_side_are_said() -> None:
    writers = [service("submission", {AGGREGATE: EVENTS, OTHER: OTHER_EVENTS})]
    checks = await season(writers, service("stats", {AGGREGATE: EVENTS[:3]}))
    lines = {item.aggregate_id: item.line() for item in checks}
    assert "at v4" in lines[str(AGGREGATE)] and "missing in stats" in lines[str(AGGREGATE)]
    assert "at v1" in lines[str(OTHER)] and "missing in stats" in lines[str(OTHER)]
    only_stats = await season([service("submission", {})], service("stats", {OTHER: OTHER_EVENTS}))
    assert "missing in the write services" in only_stats[0].line()


async def test_an_unknown_aggregate_is_not_ok() -> None:
    checks = await run_check([service("submission", {})], service("stats", {}), aggregate=str(OTHER), entry=None,
                             season=None)
    assert not checks[0].ok and checks[0].line().startswith("UNKNOWN")


async def test_an_entry_checks_every_aggregate_stats_links_to_it() -> None:
    writers = [service("submission", {AGGREGATE: EVENTS}), service("review", {OTHER: OTHER_EVENTS})]
    stats = service("stats", {AGGREGATE: EVENTS, OTHER: OTHER_EVENTS})
    checks = await run_check(writers, stats, aggregate=None, entry=str(AGGREGATE), season=None)
    assert sorted(item.aggregate_id for item in checks) == sorted([str(AGGREGATE), str(OTHER)])


def test_the_command_wants_exactly_one_target() -> None:
    result = CliRunner().invoke(cli, ["audit", "check", "--entry", "a", "--season", "b"])
    assert result.exit_code == 2 and "exactly one of --aggregate, --entry or --season" in result.output
