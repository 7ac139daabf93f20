"""A province's batch is counted on the API's /metrics by outcome (the dashboard's feed row and the quarantine
alert); posting the same batch again counts the batch, not its records a second time."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from infra.bootstrap import build_api
from qcp.services import definition
from tests.harness import TOKENS, isolated_settings, new_namespace


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(sample.labels.items())): sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name}


async def test_a_batch_with_a_quarantined_line_is_counted_once_and_its_repetition_as_a_repeated_batch(
    stack, tmp_path
) -> None:
    settings = isolated_settings(stack, "registration", tmp_path, new_namespace())
    api = build_api(definition("registration"), settings)
    headers = {"Authorization": f"Bearer {TOKENS.mint('feed-310000', 'feed', '310000')}"}
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://registration",
                                     timeout=30) as client:
            for _ in range(2):
                answer = await client.post("/feeds/batches", content=b"not json at all\n", headers=headers,
                                           params={"batch_id": "metrics-1"})
                assert answer.status_code == 200, answer.text
            text = (await client.get("/metrics")).text
    finally:
        await api.state.mongo.close()
    records = {dict(labels)["outcome"]: value for labels, value in samples(text, "qcp_feed_records_total").items()
               if dict(labels)["province"] == "310000"}
    batches = {dict(labels)["repeated"]: value for labels, value in samples(text, "qcp_feed_batches_total").items()}
    assert (records, batches) == ({"in": 1.0, "quarantined": 1.0}, {"false": 1.0, "true": 1.0})
