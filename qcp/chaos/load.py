"""The chaos run's load: clients sending real commands with Idempotency-Keys, retrying as a real client does."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from contracts.identity import credit_code_check_character
from infra.auth import PERSON_MAX_TTL_SECONDS
from qcp.demo import demo_registration

RETRIABLE_STATUS = 503
GIVE_UP_AFTER = 90.0  # seconds a client keeps retrying one command before it puts it aside for later
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class Attempt:
    """One HTTP try of a command: its status, or the transport error instead."""

    at: float
    answered_at: float | None = None
    status: int | None = None
    error: str | None = None
    retry_after: str | None = None
    replayed: bool = False


@dataclass
class Command:
    """A command as a client sends it: the same key on every try, and what it was answered."""

    service: str
    kind: str
    path: str
    body: dict[str, Any]
    token: str
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: list[Attempt] = field(default_factory=list)
    status: int | None = None
    answer: dict[str, Any] | None = None
    replayed: bool = False

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1


def credit_code(number: int) -> str:
    """A valid unified social credit code (GB 32100-2015 check character) for the run's unit `number`."""
    first_17 = f"91310000CH{number:07d}"
    return first_17 + credit_code_check_character(first_17)


def qc_achievement(unit: dict[str, Any], number: int, revision: int = 0) -> dict[str, Any]:
    """A QC group achievement (质量管理小组成果) of the unit, as its group files it."""
    report = f"{unit['short_name']}降本增效QC小组成果报告{number}.docx"
    return {
        "credit_code": unit["credit_code"],
        "unit_name": unit["unit_name"],
        "qc_type": "problem_solving",
        "group_name": f"降本增效{number}号QC小组",
        "group_registration_no": f"SH2026-QC-{number:05d}",
        "topic": f"降低变压器装配不良率（第{revision + 1}稿）",
        "members": [
            {"name": "王建国", "role": "leader", "gender": "male", "job_title": "班长"},
            {"name": "李秀英", "role": "member", "gender": "female", "job_title": "质量工程师"},
        ],
        "contact": {"name": "王建国", "department": "质量管理部", "mobile": "13912345670", "email": "qc@example.com"},
        "attachments": [{"purpose": "report", "file_name": report, "size_bytes": 524_288, "media_type": DOCX,
                         "sha256": hashlib.sha256(report.encode()).hexdigest()}],
    }


def unit_form(number: int, revision: int = 0) -> dict[str, Any]:
    """A demo unit's registration form under the run's own credit code; a revision changes its address."""
    form = demo_registration(number % 5) | {"credit_code": credit_code(number)}
    return form | {"address": f"上海市浦东新区张江路{100 + revision}号"}


class Sender:
    """Sends commands and retries on connection errors and 503 with the same key and a growing back-off."""

    def __init__(self, urls: dict[str, str], *, give_up_after: float = GIVE_UP_AFTER) -> None:
        self.urls = urls
        self.give_up_after = give_up_after
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=3.0))

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, command: Command, rng: random.Random) -> Command:
        deadline = time.monotonic() + self.give_up_after
        backoff = 0.25
        while True:
            attempt = Attempt(at=time.time())
            command.attempts.append(attempt)
            try:
                answer = await self.client.post(
                    self.urls[command.service] + command.path, json=command.body,
                    headers={"Authorization": f"Bearer {command.token}", "Idempotency-Key": command.key},
                )
            except httpx.TransportError as error:
                attempt.error = type(error).__name__
                wait = backoff
            else:
                attempt.answered_at = time.time()
                attempt.status = answer.status_code
                attempt.retry_after = answer.headers.get("Retry-After")
                attempt.replayed = answer.headers.get("Idempotent-Replayed") == "true"
                if answer.status_code != RETRIABLE_STATUS:
                    command.status = answer.status_code
                    command.replayed = attempt.replayed
                    try:
                        command.answer = answer.json()
                    except ValueError:
                        command.answer = {"text": answer.text[:500]}
                    return command
                wait = min(float(attempt.retry_after or backoff), 5.0)
            if time.monotonic() + wait > deadline:
                return command  # unanswered: the load puts it aside and sends it again at the end
            await asyncio.sleep(wait * (0.5 + rng.random()))  # jitter, so that clients do not come back together
            backoff = min(backoff * 2, 5.0)


@dataclass
class ClientState:
    """What one client has done: its units (credit code -> revision) and its entries (entry id -> unit, number)."""

    index: int
    units: dict[int, int] = field(default_factory=dict)
    entry_unit: dict[str, Any] | None = None
    entries: dict[str, tuple[int, int]] = field(default_factory=dict)


class Load:
    """`clients` clients holding `rate` commands/s between them: new registrations, amendments, entries and
    amendments of entries, each with its own Idempotency-Key."""

    def __init__(self, urls: dict[str, str], tokens: Any, season_id: str, *, clients: int, rate: float, seed: int,
                 give_up_after: float = GIVE_UP_AFTER) -> None:
        self.urls = urls
        self.tokens = tokens
        self.season_id = season_id
        self.clients = [ClientState(index) for index in range(clients)]
        self.rate = rate
        self.seed = seed
        self.sender = Sender(urls, give_up_after=give_up_after)
        self.commands: list[Command] = []
        self.organizer = tokens.mint("chaos-secretariat", "organizer", season_id.split("-")[0], PERSON_MAX_TTL_SECONDS)
        self._numbers = iter(range(1, 10_000_000))
        self.started_at: float | None = None
        self.stopped_at: float | None = None

    async def send(self, command: Command, rng: random.Random) -> Command:
        self.commands.append(command)
        return await self.sender.send(command, rng)

    def _register(self, state: ClientState, number: int, revision: int) -> Command:
        return Command("registration", "registration" if revision == 0 else "registration amendment",
                       f"/seasons/{self.season_id}/registrations", unit_form(number, revision), self.organizer)

    def _unit_token(self, unit: dict[str, Any]) -> str:
        return self.tokens.mint(f"promoter-{unit['credit_code']}", "unit", unit["credit_code"], PERSON_MAX_TTL_SECONDS)

    async def prepare_client(self, state: ClientState, rng: random.Random) -> Command:
        """Each client's unit for entries, registered before the load (submission learns of it from Kafka)."""
        number = next(self._numbers)
        command = await self.send(self._register(state, number, 0), rng)
        state.units[number] = 0
        state.entry_unit = unit_form(number)
        return command

    async def next_command(self, state: ClientState, rng: random.Random) -> Command:
        roll = rng.random()
        if roll < 0.35 or not state.units:
            number = next(self._numbers)
            state.units[number] = 0
            return await self.send(self._register(state, number, 0), rng)
        if roll < 0.65:
            number = rng.choice(sorted(state.units))
            state.units[number] += 1
            return await self.send(self._register(state, number, state.units[number]), rng)
        assert state.entry_unit is not None
        token = self._unit_token(state.entry_unit)
        if roll < 0.8 or not state.entries:
            number = next(self._numbers)
            command = await self.send(Command("submission", "entry", f"/seasons/{self.season_id}/qc-achievements",
                                              qc_achievement(state.entry_unit, number), token), rng)
            if command.accepted and command.answer:
                state.entries[command.answer["entry_id"]] = (number, 0)
            return command
        entry_id = rng.choice(sorted(state.entries))
        number, revision = state.entries[entry_id]
        state.entries[entry_id] = (number, revision + 1)
        return await self.send(Command(
            "submission", "entry amendment", f"/seasons/{self.season_id}/qc-achievements/{entry_id}/amendments",
            qc_achievement(state.entry_unit, number, revision + 1), token), rng)

    async def run(self, seconds: float) -> None:
        """Every client paces itself to its share of the rate until `seconds` have passed."""
        self.started_at = time.monotonic()
        interval = len(self.clients) / self.rate
        end = self.started_at + seconds

        async def client(state: ClientState) -> None:
            rng = random.Random(self.seed * 1000 + state.index)
            due = time.monotonic() + rng.random() * interval
            while due < end:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await self.next_command(state, rng)
                due = max(due + interval, time.monotonic() - interval)  # catch up a little after an outage, not all

        await asyncio.gather(*(client(state) for state in self.clients))
        self.stopped_at = time.monotonic()

    async def resolve_unanswered(self, *, rounds: int = 5) -> None:
        """Send again, with the same key, every command that was never answered (as a client does once back)."""
        rng = random.Random(self.seed)
        for _ in range(rounds):
            pending = [command for command in self.commands if not command.answered]
            if not pending:
                return
            for command in pending:
                await self.sender.send(command, rng)

    async def replay(self, command: Command) -> Attempt:
        """The command's key sent again: the service must answer its first result, replayed."""
        answer = await self.sender.client.post(
            self.urls[command.service] + command.path, json=command.body,
            headers={"Authorization": f"Bearer {command.token}", "Idempotency-Key": command.key},
        )
        attempt = Attempt(at=time.time(), status=answer.status_code,
                          replayed=answer.headers.get("Idempotent-Replayed") == "true")
        attempt.error = None if answer.status_code == command.status and answer.json() == command.answer else (
            f"answered {answer.status_code} {answer.text[:200]} instead of {command.status} {command.answer}")
        return attempt
