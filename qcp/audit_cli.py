"""`qcp audit check`: compare the digest chains of the write services with stats' and name where they part.

The comparison is a plain function over digest sources (each service's `/audit` routes through an
httpx client), so tests run it against in-process apps and the command against running services.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click
import httpx

from infra.digest import Divergence, first_divergence, links_of

WRITE_SERVICES = {"registration": 8101, "submission": 8102, "review": 8103}
STATS_PORT = 8104
PAGE = 500


@dataclass(frozen=True)
class DigestClient:
    """One service's digest routes; 404 means the service does not know what was asked."""

    name: str
    client: httpx.AsyncClient
    headers: dict[str, str]

    async def _get(self, path: str, **params: Any) -> dict[str, Any] | None:
        answer = await self.client.get(path, headers=self.headers, params=params)
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise click.ClickException(f"{self.name} answered {answer.status_code} for {path}: {answer.text[:500]}")
        return answer.json()

    async def chain(self, aggregate_id: str) -> dict[str, Any] | None:
        return await self._get(f"/audit/aggregates/{aggregate_id}/digests")

    async def season_heads(self, season_id: str) -> dict[str, dict[str, Any]]:
        """Every aggregate of the season with its head, page by page; none when the service has no events in it."""
        heads: dict[str, dict[str, Any]] = {}
        while True:
            page = await self._get("/audit/digests", season_id=season_id, skip=len(heads), limit=PAGE)
            if page is None:
                return heads
            heads |= {item["aggregate_id"]: item for item in page["aggregates"]}
            if not page["aggregates"] or len(heads) >= page["total"]:
                return heads

    async def entry_aggregates(self, entry_id: str) -> list[str]:
        """The aggregates whose events name the entry (stats' history of it)."""
        history = await self._get(f"/audit/entries/{entry_id}/history")
        return history["aggregates"] if history else []


@dataclass(frozen=True)
class AggregateCheck:
    """One aggregate compared: the write service holding it, its version there, and where stats parts from it."""

    aggregate_id: str
    service: str | None
    version: int
    head: str | None
    divergence: Divergence | None

    @property
    def ok(self) -> bool:
        return self.service is not None and self.divergence is None

    def line(self) -> str:
        if self.service is None and self.divergence is None:
            return f"UNKNOWN   {self.aggregate_id}: known neither to a write service nor to stats"
        if self.divergence is None:
            return f"OK        {self.aggregate_id} {self.service} v{self.version} head {self.head}"
        found = self.divergence
        where = f"at v{found.version} event {found.event_id} {found.type}"
        writer = self.service or "the write services"
        if found.missing == "theirs":
            detail = f"missing in stats (write side {found.ours})"
        elif found.missing == "ours":
            detail = f"missing in {writer} (stats {found.theirs})"
        else:
            detail = f"{writer} {found.ours} != stats {found.theirs}"
        return f"DIVERGES  {self.aggregate_id} {writer} {where}: {detail}"


async def check_aggregate(writers: Sequence[DigestClient], stats: DigestClient, aggregate_id: str) -> AggregateCheck:
    """The aggregate's chain in the write service that holds it against stats' chain of it."""
    ours, service = None, None
    for writer in writers:
        ours = await writer.chain(aggregate_id)
        if ours is not None:
            service = writer.name
            break
    theirs = await stats.chain(aggregate_id)
    if ours is None and theirs is None:
        return AggregateCheck(aggregate_id, None, 0, None, None)
    divergence = first_divergence(links_of(ours) if ours else [], links_of(theirs) if theirs else [])
    known = ours or theirs
    assert known is not None
    return AggregateCheck(aggregate_id, service, known["version"], known["head"], divergence)


async def check_season(writers: Sequence[DigestClient], stats: DigestClient, season_id: str) -> list[AggregateCheck]:
    """Heads first; whole chains only for the aggregates whose heads differ, to name the first event apart."""
    ours: dict[str, tuple[str, dict[str, Any]]] = {}
    for writer in writers:
        ours |= {key: (writer.name, item) for key, item in (await writer.season_heads(season_id)).items()}
    theirs = await stats.season_heads(season_id)
    checks = []
    for aggregate_id in sorted(ours.keys() | theirs.keys()):
        service, head = ours.get(aggregate_id, (None, None))
        if head is not None and aggregate_id in theirs and _same_head(head, theirs[aggregate_id]):
            checks.append(AggregateCheck(aggregate_id, service, head["version"], head["head"], None))
        else:
            checks.append(await check_aggregate(writers, stats, aggregate_id))
    return checks


def _same_head(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    return (ours["version"], ours["head"], ours["events"]) == (theirs["version"], theirs["head"], theirs["events"])


async def check_entry(writers: Sequence[DigestClient], stats: DigestClient, entry_id: str) -> list[AggregateCheck]:
    """Every aggregate with events about the entry (the entry itself, its review, scores, assignments, slate)."""
    aggregate_ids = set(await stats.entry_aggregates(entry_id)) | ({entry_id} if _is_uuid(entry_id) else set())
    return [await check_aggregate(writers, stats, item) for item in sorted(aggregate_ids)]


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def run_check(
    writers: Sequence[DigestClient], stats: DigestClient, *, aggregate: str | None, entry: str | None, season: str | None
) -> list[AggregateCheck]:
    if aggregate:
        return [await check_aggregate(writers, stats, aggregate)]
    if entry:
        return await check_entry(writers, stats, entry)
    assert season is not None
    return await check_season(writers, stats, season)


@click.group()
def audit() -> None:
    """Audit: tamper evidence across the services."""


@audit.command("check")
@click.option("--aggregate", help="one aggregate id")
@click.option("--entry", help="an entry id: every aggregate with events about it")
@click.option("--season", help="a season id: every aggregate of the season")
@click.option("--registration-url", default=f"http://127.0.0.1:{WRITE_SERVICES['registration']}", show_default=True)
@click.option("--submission-url", default=f"http://127.0.0.1:{WRITE_SERVICES['submission']}", show_default=True)
@click.option("--review-url", default=f"http://127.0.0.1:{WRITE_SERVICES['review']}", show_default=True)
@click.option("--stats-url", default=f"http://127.0.0.1:{STATS_PORT}", show_default=True)
@click.option("--token", envvar="QCP_TOKEN", help="a bearer token; by default one is minted for an auditor")
def check(
    aggregate: str | None,
    entry: str | None,
    season: str | None,
    registration_url: str,
    submission_url: str,
    review_url: str,
    stats_url: str,
    token: str | None,
) -> None:
    """Compare each aggregate's digest chain in its write service with stats'; exit 1 on any divergence."""
    if sum(item is not None for item in (aggregate, entry, season)) != 1:
        raise click.UsageError("give exactly one of --aggregate, --entry or --season")
    if token is None:
        from qcp.services import local_tokens

        token = local_tokens().mint("qcp-audit-check", "auditor", "audit", 600)
    urls = {"registration": registration_url, "submission": submission_url, "review": review_url}
    checks = asyncio.run(_check_over_http(urls, stats_url, token, aggregate=aggregate, entry=entry, season=season))
    for item in checks:
        click.echo(item.line())
    failed = [item for item in checks if not item.ok]
    if not checks:
        click.echo("nothing to compare: what was asked for is known neither to the write services nor to stats")
    click.echo(f"{len(checks)} aggregates compared, {len(failed)} diverging or unknown")
    sys.exit(1 if failed or not checks else 0)


async def _check_over_http(
    urls: dict[str, str], stats_url: str, token: str, **target: str | None
) -> list[AggregateCheck]:
    headers = {"Authorization": f"Bearer {token}"}
    clients = {name: httpx.AsyncClient(base_url=url, timeout=60) for name, url in [*urls.items(), ("stats", stats_url)]}
    try:
        writers = [DigestClient(name, clients[name], headers) for name in urls]
        return await run_check(writers, DigestClient("stats", clients["stats"], headers), **target)
    finally:
        for client in clients.values():
            await client.aclose()
