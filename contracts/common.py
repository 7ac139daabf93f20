"""Building blocks shared by payload models."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class Payload(BaseModel):
    """Base of every payload: unknown fields are refused, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Window(Payload):
    """A stage window with exact instants; compared in Asia/Shanghai, stored in UTC."""

    opens_at: AwareDatetime
    closes_at: AwareDatetime

    @model_validator(mode="after")
    def check_order(self) -> "Window":
        if self.closes_at <= self.opens_at:
            raise ValueError("a window must close after it opens")
        return self

    def contains(self, instant: datetime) -> bool:
        """Open from its opening instant up to and including its closing instant."""
        return self.opens_at <= instant <= self.closes_at


class Contact(Payload):
    name: str = Field(min_length=1, max_length=50)
    department: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=50)
