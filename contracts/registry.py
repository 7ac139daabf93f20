"""Which payload model belongs to which event type and version, and how old versions upcast."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
ModelT = TypeVar("ModelT", bound=type[BaseModel])


class ContractError(ValueError):
    """An event that does not match any contract: unknown type, version or payload shape."""


@dataclass
class EventContract:
    type: str
    family: str
    version: int
    model: type[BaseModel]
    upcasters: dict[int, Upcaster] = field(default_factory=dict)


_CONTRACTS: dict[str, EventContract] = {}


def contract(type_: str, *, family: str, version: int) -> Callable[[ModelT], ModelT]:
    """Register a payload model as the current version of an event type."""

    def register(model: ModelT) -> ModelT:
        if type_ in _CONTRACTS:
            raise RuntimeError(f"event type {type_} registered twice")
        _CONTRACTS[type_] = EventContract(type_, family, version, model)
        return model

    return register


def upcaster(type_: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning a payload of from_version into from_version + 1."""

    def register(function: Upcaster) -> Upcaster:
        _CONTRACTS[type_].upcasters[from_version] = function
        return function

    return register


def payload_model(type_: str) -> type[BaseModel]:
    return _lookup(type_).model


def latest_version(type_: str) -> int:
    return _lookup(type_).version


def registered_types() -> dict[str, EventContract]:
    return dict(_CONTRACTS)


def families() -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for item in _CONTRACTS.values():
        grouped.setdefault(item.family, []).append(item.type)
    return grouped


def parse_payload(type_: str, version: int, payload: dict[str, Any]) -> BaseModel:
    """Validate a payload of any known version, upcasting it to the current model."""
    item = _lookup(type_)
    if version > item.version:
        raise ContractError(
            f"{type_} schema_version {version} is newer than this service knows ({item.version})"
        )
    data = dict(payload)
    for step in range(version, item.version):
        if step not in item.upcasters:
            raise ContractError(f"{type_} has no upcaster from schema_version {step}")
        data = item.upcasters[step](data)
    try:
        return item.model.model_validate(data)
    except ValidationError as error:
        raise ContractError(f"{type_} v{version} payload invalid: {error}") from error


def _lookup(type_: str) -> EventContract:
    try:
        return _CONTRACTS[type_]
    except KeyError:
        raise ContractError(f"unknown event type {type_!r}") from None

