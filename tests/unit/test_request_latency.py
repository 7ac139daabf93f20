"""Every answered request's latency is observed under its route template and status; an unmatched path as such."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from infra.http import ObserveLatency
from infra.metrics import ServiceMetrics


def observed(metrics: ServiceMetrics) -> dict[tuple[str, ...], float]:
    return {tuple(sample.labels[name] for name in ("service", "method", "route", "status")): sample.value
            for family in metrics.registry.collect() if family.name == "qcp_http_request_duration_seconds"
            for sample in family.samples if sample.name.endswith("_count")}


def test_each_request_is_observed_under_its_route_template_and_status() -> None:
    metrics = ServiceMetrics("registration")
    app = FastAPI()

    @app.get("/seasons/{season_id}")
    async def season(season_id: str) -> dict[str, str]:
        return {"season_id": season_id}

    app.add_middleware(ObserveLatency, service="registration", metrics=metrics)
    with TestClient(app) as client:
        client.get("/seasons/310000-2026-qc_group")
        client.get("/seasons/310000-2027-qc_group")
        client.get("/nowhere")

    assert observed(metrics) == {("registration", "GET", "/seasons/{season_id}", "200"): 2.0,
                                 ("registration", "GET", "unmatched", "404"): 1.0}
