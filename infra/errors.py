"""The errors the domain raises, by what went wrong; the edge alone maps each kind to an HTTP status.

Every one names the field, the rule and a plain message, and means nothing was stored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RuleViolation(Exception):
    """A command broke a domain rule: its input is not acceptable as given."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} ({self.rule})"


class Conflict(RuleViolation):
    """The input is well formed, but the current state forbids it (already done, closed, taken)."""


class NotPermitted(RuleViolation):
    """The caller may not do this (its role, or the organization the command names)."""


class Unknown(RuleViolation):
    """The command names something that is not known (a round, a season, a registration)."""


class TooLarge(RuleViolation):
    """The input is larger than the platform accepts."""


class Unsupported(RuleViolation):
    """The input comes in a form the platform does not read (an encoding, a media type)."""


class Malformed(RuleViolation):
    """The input cannot be read at all (a broken gzip stream, bytes that are not text)."""


@dataclass
class NotFound(Exception):
    """What was asked for does not exist, or the caller may not know that it does."""

    what: str

    def __str__(self) -> str:
        return f"{self.what} not found"
