"""`qcp stats rebuild`: starts a rebuild through the API, follows it to the end, and exits non-zero
when the comparison found differences."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from qcp import stats_cli
from qcp.cli import cli
from tests.harness import TOKENS


def api(outcome: dict[str, Any]) -> httpx.MockTransport:
    polls = iter([
        {"status": "running", "phase": "reading", "events_total": 100, "events_read": 40, "events_per_second": 400},
        {"status": "running", "phase": "comparing", "events_total": 100, "events_read": 100},
    ])

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Bearer ")
        if request.method == "POST" and request.url.path == "/rebuilds":
            return httpx.Response(202, json={"rebuild_id": "abc", "status": "requested"})
        assert request.url.path == "/rebuilds/abc"
        return httpx.Response(200, json=next(polls, outcome))

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(("outcome", "exit_code", "shown"), [
    ({"status": "switched", "events_read": 100, "events_total": 100, "reports_compared": 7, "seconds": 1.5}, 0,
     "status: switched (7 reports compared, 100 events in 1.5 s)"),
    ({"status": "differs", "events_read": 100, "events_total": 100, "reports_compared": 7, "differences": [
        {"report": "season/x/overview", "path": "/entries", "live": 3, "rebuilt": 2}]}, 1,
     "season/x/overview /entries: live 3, rebuilt 2"),
])
def test_a_rebuild_is_followed_to_its_outcome(monkeypatch: pytest.MonkeyPatch, outcome: dict[str, Any],
                                              exit_code: int, shown: str) -> None:
    real_client = httpx.Client
    monkeypatch.setattr(stats_cli.httpx, "Client", lambda **options: real_client(transport=api(outcome), **options))
    result = CliRunner().invoke(cli, ["stats", "rebuild", "--url", "http://stats", "--interval", "0"])
    assert result.exit_code == exit_code, result.output
    assert "rebuild abc requested" in result.output and shown in result.output


def test_a_rebuild_is_started_and_followed_with_an_ops_token(monkeypatch: pytest.MonkeyPatch) -> None:
    roles: list[str] = []
    outcome = api({"status": "switched", "events_read": 1, "events_total": 1, "reports_compared": 1, "seconds": 1})

    def handle(request: httpx.Request) -> httpx.Response:
        roles.append(TOKENS.verify(request.headers["authorization"].removeprefix("Bearer ")).role.value)
        return outcome.handle_request(request)

    real_client = httpx.Client
    monkeypatch.setattr(stats_cli.httpx, "Client",
                        lambda **options: real_client(transport=httpx.MockTransport(handle), **options))
    result = CliRunner().invoke(cli, ["stats", "rebuild", "--url", "http://stats", "--interval", "0"],
                                env={"QCP_JWT_SECRET": None})
    assert (result.exit_code, set(roles)) == (0, {"ops"}), result.output
