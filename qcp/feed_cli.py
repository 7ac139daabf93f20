"""`qcp feed post FILE`: a province's mixed feed file, posted to the services that own its record types, in order.

The file (NDJSON, or gzipped: by its name or its magic bytes) is split by record type. Registrations go
to registration first; the entries' service (submission) learns of them from registration's events, so
the command waits until submission has projected every registration now stored, then posts the entries,
waits until review has projected them, then posts recommendations and results (one batch: a result
follows its recommendation). Lines that are not records, or of no known type, go with the registrations
so that they are quarantined and reported, never dropped. The answer is the combined batch report.

A dependency that does not arrive in time is not an error of the command: the records that need it are
quarantined with the reason (e.g. `feed.unit.unknown`) and are taken when the file is posted again.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
import httpx

from infra.feeds import RECORD_TYPES, Report, feed_aggregate_id

STEPS = (("registration", ("registration",)), ("submission", ("entry",)), ("review", ("recommendation", "result")))
DEFAULT_URLS = {"registration": "http://127.0.0.1:8101", "submission": "http://127.0.0.1:8102",
                "review": "http://127.0.0.1:8103"}


class FeedFileError(click.ClickException):
    """The file cannot be posted as it is (e.g. a truncated gzip); nothing was sent."""


def read_feed(path: Path) -> bytes:
    body = path.read_bytes()
    if path.suffix == ".gz" or body[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(body)
        except (EOFError, OSError) as error:
            raise FeedFileError(f"{path.name} is not a whole gzip file ({error}); nothing was posted") from None
    return body


def split_by_service(text: bytes) -> tuple[dict[str, list[bytes]], dict[str, list[dict[str, Any]]]]:
    """The lines each service takes, and the readable records per record type (to know what to wait for)."""
    lines: dict[str, list[bytes]] = {service: [] for service, _ in STEPS}
    records: dict[str, list[dict[str, Any]]] = {}
    for line in text.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        record_type = record.get("record_type") if isinstance(record, dict) else None
        service = RECORD_TYPES.get(record_type, "registration") if isinstance(record_type, str) else "registration"
        lines[service].append(line)
        if isinstance(record, dict) and isinstance(record_type, str):
            records.setdefault(record_type, []).append(record)
    return lines, records


def province_in(records: Mapping[str, list[dict[str, Any]]]) -> str | None:
    """The province most records name (a stray record of another province does not decide it)."""
    counts: dict[str, int] = {}
    for items in records.values():
        for item in items:
            if isinstance(item.get("province"), str):
                counts[item["province"]] = counts.get(item["province"], 0) + 1
    return max(counts, key=lambda key: counts[key]) if counts else None


async def post_feed(
    text: bytes,
    clients: Mapping[str, httpx.AsyncClient],
    token: str,
    *,
    batch_id: str | None = None,
    wait_seconds: float = 120.0,
    echo: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Post one province's feed in dependency order and answer the combined report (and each service's)."""
    lines, records = split_by_service(text)
    base = batch_id or "sha256-" + hashlib.sha256(text).hexdigest()[:24]
    headers = {"Authorization": f"Bearer {token}", "Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}
    answers: dict[str, Any] = {}
    combined = Report()
    started = time.monotonic()
    for position, (service, _types) in enumerate(STEPS):
        if not lines[service]:
            continue
        body = gzip.compress(b"\n".join(lines[service]) + b"\n")
        response = await clients[service].post(
            "/feeds/batches", content=body, headers=headers, params={"batch_id": f"{base}-{service}", "keys": "true"},
            timeout=600,
        )
        if response.status_code != 200:
            raise click.ClickException(f"{service} refused the batch: {response.status_code} {response.text[:2000]}")
        answer = response.json()
        stored = set(answer.pop("stored", []))
        answers[service] = answer
        combined.merge(Report({key: dict(value) for key, value in answer["by_type"].items()}))
        echo(f"{service}: {json.dumps(answer['total'], ensure_ascii=False)} ({time.monotonic() - started:.1f}s)")
        if position + 1 < len(STEPS):
            await _wait_until_known(clients, service, stored, records, wait_seconds, echo, token)
    combined.check()
    return {"batch_id": base, "by_service": answers} | combined.as_dict()


async def _wait_until_known(
    clients: Mapping[str, httpx.AsyncClient], service: str, stored: set[str], records: Mapping[str, list[dict[str, Any]]],
    wait_seconds: float, echo: Callable[[str], None], token: str,
) -> None:
    """Poll the next service's read endpoints until it has projected what this step stored (or time runs out)."""
    paths = set()
    for record in records.get("registration" if service == "registration" else "entry", []):
        if f"{record.get('record_type')}/{record.get('external_id')}" not in stored:
            continue
        data = record.get("data") or {}
        if service == "registration":
            paths.add(("submission", f"/seasons/{record['season']}/units/{str(data.get('credit_code', '')).upper()}"))
        else:
            entry_id = feed_aggregate_id("entry", str(record.get("province")), str(record.get("external_id")))
            paths.add(("review", f"/seasons/{record['season']}/entries/{entry_id}/submission"))
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + wait_seconds
    while paths and time.monotonic() < deadline:
        answers = await asyncio.gather(*(clients[target].get(path, headers=headers) for target, path in paths))
        paths = {item for item, answer in zip(paths, answers, strict=True) if answer.status_code != 200}
        if paths:
            await asyncio.sleep(0.5)
    if paths:
        echo(f"{len(paths)} records of {service} were not known downstream after {wait_seconds:.0f}s; "
             "what depends on them is quarantined and is taken when the file is posted again")


@click.group("feed")
def feed() -> None:
    """Provincial feeds: post a province's season (registrations, entries, recommendations, results)."""


@feed.command("post")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--province", help="the province's GB/T 2260 code (default: the one the records name)")
@click.option("--token", envvar="QCP_FEED_TOKEN", help="the province's feed token (default: a development token)")
@click.option("--batch-id", help="the batch id (default: from the file's content, so posting again is recognised)")
@click.option("--url-registration", default=DEFAULT_URLS["registration"], show_default=True)
@click.option("--url-submission", default=DEFAULT_URLS["submission"], show_default=True)
@click.option("--url-review", default=DEFAULT_URLS["review"], show_default=True)
@click.option("--wait", "wait_seconds", type=float, default=120.0, show_default=True,
              help="seconds to wait for a service to learn of the previous step's records")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), help="write the report as JSON")
def post_command(
    file: Path, province: str | None, token: str | None, batch_id: str | None, url_registration: str,
    url_submission: str, url_review: str, wait_seconds: float, report_path: Path | None,
) -> None:
    """Post FILE (NDJSON or .gz) to the services in dependency order and print the combined batch report."""
    text = read_feed(file)
    province = province or province_in(split_by_service(text)[1])
    if province is None:
        raise FeedFileError(f"{file.name} names no province: give --province")
    report = asyncio.run(_post_with_urls(
        text, {"registration": url_registration, "submission": url_submission, "review": url_review},
        token or development_token(province), batch_id, wait_seconds,
    ))
    rendered = json.dumps(report, ensure_ascii=False, indent=2)
    if report_path is not None:
        report_path.write_text(rendered + "\n", encoding="utf-8")
    click.echo(rendered)


def development_token(province: str) -> str:
    from qcp.services import local_tokens

    return local_tokens().mint(f"feed-{province}", "feed", province)


async def _post_with_urls(
    text: bytes, urls: Mapping[str, str], token: str, batch_id: str | None, wait_seconds: float
) -> dict[str, Any]:
    clients = {service: httpx.AsyncClient(base_url=url, timeout=600) for service, url in urls.items()}
    try:
        return await post_feed(text, clients, token, batch_id=batch_id, wait_seconds=wait_seconds, echo=click.echo)
    finally:
        for client in clients.values():
            await client.aclose()
