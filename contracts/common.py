"""Building blocks shared by payload models."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contracts.identity import Email, Mobile, Phone


# Control characters (other than tab and line breaks) and unpaired surrogates are never part of
# what a form holds, and some stores cannot keep them (PostgreSQL text refuses NUL).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_text(value: str, field: str | None = None) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise PydanticCustomError(
            "text.control_character",
            "{field} contains a control character or broken character encoding; type or paste it again",
            {"field": field or "the text"},
        )
    return value


# What the JSON schemas say of the text and numbers a payload takes, so that they match the validation: text
# without control characters (and, where it may not be empty, not blank: text is stripped first), and a decimal
# written as a string is a number.
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
NOT_BLANK = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
DECIMAL_TEXT = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def decimal_schema(number: dict[str, Any], text_pattern: str, **extra: Any) -> WithJsonSchema:
    """A decimal's JSON schema: a number within its bounds, or the same number written as text (`text_pattern`
    says the bounds and the decimal places the validators take)."""
    return WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "pattern": text_pattern}],
                           **number, **extra})


def _text_as_validated(schema: dict[str, Any]) -> None:
    """Say in a property's schema what `printable_text`, stripping and a dict's key pattern check (see PRINTABLE)."""
    if "patternProperties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False  # a key that matches none of the patterns is refused
    options = schema.get("anyOf")
    if options is not None:
        if any(option.get("type") == "number" for option in options) and {"type": "string"} in options:
            options[options.index({"type": "string"})] = {"type": "string", "pattern": DECIMAL_TEXT}
        for option in options:
            _text_as_validated(option)
    elif schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        _text_as_validated(schema["items"])
    elif schema.get("type") == "string" and not ({"pattern", "format", "enum", "const"} & schema.keys()):
        schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) >= 1 else PRINTABLE


def _schema_as_validated(schema: dict[str, Any]) -> None:
    for item in schema.get("properties", {}).values():
        _text_as_validated(item)


class Payload(BaseModel):
    """Base of every payload: unknown fields are refused, so typos never pass silently; text is printable."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_schema_as_validated)

    @field_validator("*", mode="after")
    @classmethod
    def printable_text(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            check_text(value, info.field_name)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    check_text(item, info.field_name)
        return value


class Window(Payload):
    """A stage window with exact instants; compared in Asia/Shanghai, stored in UTC.

    An instant must carry its offset (e.g. 2020-07-12T22:00:00+08:00); it is kept as UTC.
    """

    opens_at: AwareDatetime
    closes_at: AwareDatetime

    @field_validator("opens_at", "closes_at")
    @classmethod
    def in_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+08:00 is before the first instant a datetime holds in UTC
            raise PydanticCustomError(
                "season.window.out_of_range", "an instant of a window lies between the years 1 and 9999 in UTC"
            ) from None

    @model_validator(mode="after")
    def check_order(self) -> "Window":
        if self.closes_at <= self.opens_at:
            raise PydanticCustomError(
                "season.window.closes_after_opens", "a window must close after it opens (closes_at > opens_at)"
            )
        return self

    def contains(self, instant: datetime) -> bool:
        """Open from its opening instant up to and including its closing instant."""
        return self.opens_at <= instant <= self.closes_at


class Contact(Payload):
    """A person named on a form: 姓名, 部门及职务."""

    name: str = Field(min_length=1, max_length=50)
    department: str | None = Field(default=None, max_length=100)
    title: str | None = Field(default=None, max_length=50)


class ContactPerson(Contact):
    """A contact person with the means to reach them (联系人, 手机, 邮箱, 电话)."""

    mobile: Mobile
    email: Email
    phone: Phone | None = None
