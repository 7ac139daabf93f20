"""Bounds on what a caller may send: body sizes counted while read, writes per token per minute, clean parameters.

- `BodyLimit` (ASGI middleware): a declared `Content-Length` over the limit is refused before anything is read,
  and the received chunks are counted, so a body without a length stops at the first chunk past it. The
  answer is 413 naming the limit and its setting, before the body is parsed and before the token is checked.
  Feed uploads (`POST /feeds/batches`) have their own, larger limit; every other route `QCP_MAX_BODY_BYTES`.
- `RateLimit` (ASGI middleware): a token bucket per token (subject, role, organization) in the process, for
  writes (POST, PUT, PATCH, DELETE); past it 429 with `Retry-After`. Limits per role: QCP_RATE_LIMIT_<ROLE>_PER_MINUTE.
  The token it verifies is verified once for the request: the route's authorization reuses the outcome.
- `clean_parameters` (dependency): a path or query parameter with a NUL or another control character is
  refused with 422 naming it, before it can reach a store.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.codes import Role
from infra.auth import InvalidToken, TokenService
from infra.http.problems import problem, refusal
from infra.http.security import verify_once
from infra.settings import ServiceSettings

FEED_UPLOADS = frozenset({"/feeds/batches"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _defaults() -> ServiceSettings:
    """Settings' defaults, for an app built without settings (a test's, a worker's health app)."""
    return ServiceSettings.model_construct(service="registration")


# ---------------------------------------------------------------- body size


@dataclass(frozen=True)
class BodyCap:
    """One limit on a body: its size, the rule a refusal names and the setting that changes it."""

    max_bytes: int
    rule: str
    setting: str
    what: str

    def refusal(self) -> JSONResponse:
        message = (f"{self.what} is at most {self.max_bytes} bytes ({_size(self.max_bytes)}, the limit "
                   f"{self.setting}); nothing was read further and nothing was changed")
        return refusal(413, message, [problem("body", self.rule, message)])


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):g} MiB" if count >= 1024 * 1024 else f"{count / 1024:g} KiB"


def body_caps(settings: ServiceSettings | None) -> tuple[BodyCap, BodyCap]:
    """The limit of JSON routes and that of feed uploads, from the service's settings."""
    settings = settings or _defaults()
    return (
        BodyCap(settings.max_body_bytes, "request.body.too_large", "QCP_MAX_BODY_BYTES", "a request body"),
        BodyCap(settings.feed_max_compressed_bytes, "feed.batch.too_large", "QCP_FEED_MAX_COMPRESSED_BYTES",
                "a feed batch as sent (compressed or not)"),
    )


class _BodyTooLarge(Exception):
    """Raised into the app from `receive` when the body passes its limit; the middleware answers 413."""


class BodyLimit:
    """Refuses a body past its limit while it is read (see the module's docstring)."""

    def __init__(self, app: ASGIApp, settings: ServiceSettings | None = None) -> None:
        self.app = app
        self.json_cap, self.feed_cap = body_caps(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.feed_cap if scope["path"] in FEED_UPLOADS else self.json_cap
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap.max_bytes:
            await cap.refusal()(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to a body it could not read is replaced by the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await cap.refusal()(scope, receive, send)


# ---------------------------------------------------------------- writes per token


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class TokenBuckets:
    """A bucket per key holding up to a minute's worth of writes, refilled continuously."""

    clock: Any = time.monotonic
    buckets: dict[tuple[str, ...], _Bucket] = field(default_factory=dict)

    def take(self, key: tuple[str, ...], per_minute: int) -> float:
        """0 when a write is allowed now (and counted); else the seconds until the next one is."""
        now = self.clock()
        rate = per_minute / 60.0
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= 10_000:
                self._forget_full(now)
            bucket = self.buckets[key] = _Bucket(float(per_minute), now)
        bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def _forget_full(self, now: float) -> None:
        """Drop the buckets idle for a minute: full again, they hold nothing worth remembering."""
        for key, bucket in list(self.buckets.items()):
            if now - bucket.updated >= 60:
                del self.buckets[key]


def rate_limits(settings: ServiceSettings | None) -> dict[Role, int]:
    settings = settings or _defaults()
    return {role: getattr(settings, f"rate_limit_{role.value}_per_minute") for role in Role}


class RateLimit:
    """Limits a token's writes per minute by its role (see the module's docstring)."""

    def __init__(self, app: ASGIApp, tokens: TokenService, settings: ServiceSettings | None = None) -> None:
        self.app = app
        self.tokens = tokens
        self.limits: Mapping[Role, int] = rate_limits(settings)
        self.buckets = TokenBuckets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in WRITES:
            refusal = self._refusal(scope, Headers(scope=scope).get("authorization"))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, authorization: str | None) -> JSONResponse | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None  # no token: the route's authentication answers
        try:
            # verified once per request: the route's authorization reads this outcome from the request's state
            actor = verify_once(scope.setdefault("state", {}), self.tokens, token.strip()).actor
        except InvalidToken:
            return None
        per_minute = self.limits.get(actor.role, 0)
        if per_minute <= 0:
            return None
        wait = self.buckets.take((actor.id, actor.role.value, actor.org), per_minute)
        if wait <= 0:
            return None
        seconds = max(1, math.ceil(wait))
        setting = f"QCP_RATE_LIMIT_{actor.role.value.upper()}_PER_MINUTE"
        message = (f"too many writes with this token: role {actor.role.value} may make {per_minute} per minute "
                   f"(the limit {setting}); nothing was changed, try again in {seconds} s")
        return refusal(429, message, [problem("Authorization", "rate_limit.exceeded", message)],
                       {"Retry-After": str(seconds)})


# ---------------------------------------------------------------- parameters

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


async def clean_parameters(request: Request) -> None:
    """422 naming the path or query parameter that holds a NUL or another control character."""
    problems = [
        {"loc": (where, name), "type": "string.control_character",
         "msg": f"{name} holds a control character (U+{ord(found.group()):04X}); a parameter is printable text"}
        for where, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items()))
        for name, value in items
        if isinstance(value, str) and (found := _CONTROL.search(value) or _CONTROL.search(name))
    ]
    if problems:
        raise RequestValidationError(problems)
