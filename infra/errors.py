"""Errors the domain raises and how HTTP answers them: the field, the rule and a plain message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RuleViolation(Exception):
    """A command broke a domain rule: nothing was stored."""

    field: str
    rule: str
    message: str
    status_code: int = 422

    def __str__(self) -> str:
        return f"{self.field}: {self.message} ({self.rule})"


@dataclass
class NotFound(Exception):
    """What was asked for does not exist."""

    what: str

    def __str__(self) -> str:
        return f"{self.what} not found"
